import type { InputRecord, PredictResponse } from '../../lambdas/core/inference';

/** What both clients are: records in, the API's 200 body out. */
export interface Predictor {
  predict(records: readonly InputRecord[]): Promise<PredictResponse>;
}
