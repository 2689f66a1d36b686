export * from "./addon-definition.js";
export * from "./define-addon.js";
export * from "./random.js";
export * from "./session.js";
