/**
 * The typed client of devmlops' inference (issue 6): DevMlopsClient calls the inference API (SigV4), and
 * EndpointClient calls the SageMaker endpoint directly with the same encoding. Both give the API's response.
 */
export { DevMlopsClient, regionFromApiUrl, type Credentials, type DevMlopsClientOptions } from './api-client';
export { EndpointClient, type EndpointClientOptions } from './endpoint-client';
export { ApiError, InvalidRecordsError, ModelError, NoModelError, ThrottledError } from './errors';
export type { Predictor } from './types';
export type {
  ApiErrorBody,
  ApiErrorCode,
  BinaryPrediction,
  InputRecord,
  MulticlassPrediction,
  Prediction,
  PredictResponse,
  RecordError,
  RecordValue,
  RegressionPrediction,
} from '../../lambdas/core/inference';
