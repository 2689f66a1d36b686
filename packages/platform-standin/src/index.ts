export { startPlatformStandIn } from "./start-platform-stand-in.js";
export { createPlatformDriver, type PlatformDriverOptions, type DriverObserver } from "./driver.js";
export type {
  DriverResponse,
  InjectedFault,
  PlatformDriver,
  PlatformStandIn,
  PlatformStandInOptions,
  RecordedCall,
  StandInAddon,
} from "./types.js";
