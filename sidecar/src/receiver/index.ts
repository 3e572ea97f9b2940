export {
  type ReceiverOptions,
  type ReceiverStats,
  type RunningReceiver,
  startOtlpReceiver,
} from './otlpHttpReceiver.js';
export { decodeOtlpProtobuf, encodeOtlpProtobuf, type OtlpSignal } from './otlpProto.js';
export { listBackups, RotatingFile } from './rotatingFile.js';
export { splitExportRequest } from './splitRequest.js';
