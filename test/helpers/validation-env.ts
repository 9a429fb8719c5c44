// Imported first by handler tests: the validation handler reads its environment once, at import,
// as at a Lambda cold start, so it must be in place before the handler module loads.
import { schema } from './csv';
import { BUCKETS } from './local-s3';

process.env.PROJECT = 'testproj';
process.env.RAW_BUCKET = BUCKETS.raw;
process.env.CURATED_BUCKET = BUCKETS.curated;
process.env.QUARANTINE_BUCKET = BUCKETS.quarantine;
process.env.ARTIFACTS_BUCKET = BUCKETS.artifacts;
process.env.DATASET_SCHEMAS = JSON.stringify([schema]);
process.env.MAX_INVALID_ROW_FRACTION = '0.05';
process.env.MAX_LINE_BYTES = '65536';
// POWERTOOLS_DEV (test/setup.js) disables metrics unless this says otherwise; then EMF goes to console.log.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
