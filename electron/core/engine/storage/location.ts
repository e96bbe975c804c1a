// Repository locations are parsed where every process edge can reach them
// (the contract); the engine uses the same functions.
export {
  type ParsedLocation,
  type S3Location,
  type SftpLocation,
  canonicalLocation,
  isRemoteLocation,
  isS3Location,
  parseLocation,
  parseS3Location,
  parseSftpLocation,
} from '../../../common/contract/location';
