"use strict";
// One JSON line per event on stdout, every line passed through the redactor: no secret reaches the log.
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };

function logger(service, level, redact) {
    const min = LEVELS[level] ?? LEVELS.info;
    const write =
        (lvl) =>
        (msg, fields = {}) => {
            if (LEVELS[lvl] < min) return;
            const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, service, msg, ...fields });
            process.stdout.write(redact(line) + "\n");
        };
    return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

module.exports = { logger };
