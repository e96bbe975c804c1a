// Repository locations are parsed where every process edge can reach them
// (the contract); the engine uses the same functions.
export { type ParsedLocation, type SftpLocation, canonicalLocation, isRemoteLocation, parseLocation, parseSftpLocation } from '../../../common/contract/location';
