// Wiring only: validate config (nothing is registered if it is bad), build the platform, export.
import { loadConfig } from "./config";
import { buildPlatform } from "./components/platform";

const platform = buildPlatform(loadConfig());

export const namespace = platform.outputs.namespace;
export const hosts = platform.outputs.hosts;
export const dataStores = platform.outputs.dataStores;
export const urls = platform.outputs.urls;
export const images = platform.outputs.images;
export const verification = platform.outputs.verification;
