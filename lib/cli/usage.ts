/** Help texts, kept apart from the commands so that `--help` loads nothing heavy. */

export const USAGE = `Usage: devmlops <command> [options]

Commands:
  validate --schema S.json FILE   validate a CSV (or .csv.gz) file with the same core as the Lambda
  schema [-o S.json]              print the dataset schema configured in cdk.json
  baseline --schema S.json FILE... [-o baseline.json]
                                  build the drift baseline (and feature spec) of CSV files, as Prepare does
  drift --baseline baseline.json CAPTURE.jsonl...
                                  compare captured traffic with a baseline, as the drift Lambda does
  train [--dataset D] [--wait] [--local]
                                  start the training state machine (on AWS, or in the local platform)
  predict --record JSON | --file F.jsonl [--local] [--json]
                                  score records through the inference API (or the endpoint directly)
  generate --rows N -o FILE       write deterministic sample data for the default schema
  demo [--keep]                   run the whole loop locally (no AWS account needed)
  local up [--speed X] [--fresh]  start the local platform and keep it running

Run \`devmlops <command> --help\` for a command's options.
Exit codes: 0 success (validate: accepted), 1 validate: quarantined / drift: drift / train --wait: the
execution did not succeed, 2 usage, IO or schema error.
`;

export const BASELINE_USAGE = `Usage: devmlops baseline --schema S.json FILE... [-o baseline.json] [--spec-out FILE] [--json]
                         [--validation-fraction F]

Builds baseline.json (DESIGN.md section 8: per-feature quantile bins and counts, category counts, missing
counts, the label distribution) over CSV files with the same streaming core as the Prepare Lambda. Each
FILE (.csv, or gzip) needs a header naming its columns: a curated file, or a raw file (rows are not
validated; a row the reader cannot read or with another number of cells is skipped, a row without a
label is left out). Files are read in the order given; the same files always give the same bytes.

Options:
  --schema FILE               dataset schema JSON (DESIGN.md section 4) (required)
  -o, --output FILE           write baseline.json here (default: stdout), and feature-spec.json next to it
  --spec-out FILE             write feature-spec.json here instead
  --json                      also print the baseline on stdout (nothing else goes there)
  --validation-fraction F     build it over the training side of Prepare's split only, as the pipeline
                              does (training.validationFraction); default 0: every labelled row
  -h, --help                  this text

Exit codes: 0 written, 2 usage, IO or schema error, a header without the schema's columns, or no usable row.
`;

export const DRIFT_USAGE = `Usage: devmlops drift --baseline baseline.json [--spec feature-spec.json] CAPTURE.jsonl...
                      [--json] [--html report.html] [--min-samples N] [--threshold X]

Compares captured traffic (SageMaker Data Capture JSON Lines, DESIGN.md section 7; CSV, JSON or BASE64
payloads, several rows per record; .jsonl or gzip) with a training baseline, with the same streaming core
as the drift Lambda: per feature PSI on the baseline's bins, the robust KS distance and the missing rate.
A feature drifts when its PSI is above the threshold. Malformed lines and rows of the wrong width are
counted and skipped. Fewer captured rows than --min-samples is "insufficient data", which counts as no
drift (and says so on stderr).

Options:
  --baseline FILE      baseline.json (from training, or \`devmlops baseline\`) (required)
  --spec FILE          feature-spec.json (default: feature-spec.json next to the baseline)
  --json               print only the DriftReport JSON on stdout
  --html FILE          also write the report as one self-contained HTML page (opens offline): the
                       summary, then per feature the baseline and current distributions side by side,
                       PSI, KS and missing rates, drifted features first
  --min-samples N      captured rows needed for a decision (default 500)
  --threshold X        PSI above which a feature drifts (default 0.2)
  -h, --help           this text

Exit codes: 0 no drift (or insufficient data), 1 drift, 2 usage, IO or baseline error.
`;

export const TRAIN_USAGE = `Usage: devmlops train [--dataset D] [--wait] [--state-machine-arn ARN] [--region R] [--name NAME]
                      [--poll-seconds N] [--timeout-minutes N] [--json] [--local]

Starts the training state machine of a deployed stack with {"trigger": "manual", "dataset": D}. The
state machine is named by --state-machine-arn or the environment variable DEVMLOPS_STATE_MACHINE_ARN;
find it in the TrainingStateMachineArn output of the <project>-pipeline stack:
  aws cloudformation describe-stacks --stack-name devmlops-pipeline \\
    --query "Stacks[0].Outputs[?OutputKey=='TrainingStateMachineArn'].OutputValue" --output text
(the CLI does not look it up itself: it does not ship the CloudFormation client). AWS credentials come
from the usual chain (AWS_PROFILE, environment, SSO...).

Options:
  --dataset D              the dataset to train on (default: the one in cdk.json)
  --wait                   poll until the execution ends and print its outcome (Succeeded, Skipped,
                           ModelRejected...)
  --state-machine-arn ARN  the training state machine
  --region R               default: the ARN's region
  --name NAME              execution name (default: generated by Step Functions)
  --poll-seconds N         with --wait, seconds between polls (default 30)
  --timeout-minutes N      with --wait, stop waiting after this long (default 1440)
  --json                   print the execution (and with --wait its result) as JSON on stdout
  --local                  start it in the running local platform (\`devmlops local up\`) instead of AWS;
                           the state machine is the one synthesized from this app
  -h, --help               this text

Exit codes: 0 started (with --wait: succeeded), 1 with --wait: failed, timed out, aborted or still
running, 2 usage or AWS error.
`;

export const VALIDATE_USAGE = `Usage: devmlops validate --schema S.json FILE [--out-dir D] [--json] [--html report.html]
                         [--max-invalid-fraction F] [--max-line-bytes N]

Validates a CSV file (.csv, or gzip by extension or content) against a dataset schema with the same
streaming core as the validation Lambda. \`devmlops schema -o S.json\` writes the project's schema.

Options:
  --schema FILE               dataset schema JSON (DESIGN.md section 4) (required)
  --out-dir DIR               write what the data lake would hold: curated.csv (valid rows),
                              quarantine.csv (invalid rows with an _errors column; or, for a file
                              quarantined whole, a copy of the original), and report.json
  --json                      print only the report JSON on stdout
  --html FILE                 also write the report as one self-contained HTML page (opens offline):
                              status, row counts, errors by code and by field, the first errors,
                              missing counts per field
  --max-invalid-fraction F    quarantine the whole file above this fraction of invalid rows
                              (default: validation.maxInvalidRowFraction in cdk.json, 0.05)
  --max-line-bytes N          longest accepted record in bytes
                              (default: validation.maxLineBytes in cdk.json, 1048576)
  -h, --help                  this text

Exit codes: 0 accepted, 1 quarantined, 2 usage, IO or schema error.
`;

export const SCHEMA_USAGE = `Usage: devmlops schema [-o FILE]

Prints the dataset schema configured in cdk.json (context key "devmlops", field "dataset") as JSON: the
file that \`devmlops validate --schema\` takes.

Options:
  -o, --output FILE   write to FILE instead of stdout
  -h, --help          this text
`;

export const GENERATE_USAGE = `Usage: devmlops generate --rows N [--seed S] [--drift X] [--invalid-fraction F] -o FILE

Writes a deterministic sample CSV for the default "churn" dataset schema (cdk.json): the same options
always give the same bytes. A name ending in .gz is gzipped.

Options:
  --rows N                data rows to write (required)
  --seed S                PRNG seed, an integer (default 1)
  --drift X               0..1: shift the distributions (shorter tenure, higher charges, more basic plans,
                          more support calls) to simulate drift (default 0)
  --invalid-fraction F    0..1: fraction of rows made invalid (bad type, out of range, unknown enum,
                          missing required value, wrong column count) (default 0)
  -o, --output FILE       where to write (.csv or .csv.gz)
  -h, --help              this text
`;

export const DEMO_USAGE = `Usage: devmlops demo [--keep] [--json]

Runs the whole MLOps loop on this machine, with no AWS account, using the same handlers and the state machine
synthesized from this app (DESIGN.md section 10): local S3 under .devmlops/demo/ (wiped at the start), sample
files uploaded to raw and validated (one is quarantined), training with XGBoost (WebAssembly), evaluation,
registration and deployment of version 1, normal traffic through the inference API (the local API Gateway,
SigV4, the inference Lambda; counted by the model version it answers with), a quiet drift check, shifted traffic, the drift alarm, retraining on the new data and version 2 deployed through the
blue/green update path. Simulated time moves one hour per drift check. Progress goes to stderr; the summary
(files, model versions, drift per feature, alarms, timings) to stdout.

Options:
  --keep       leave the platform running afterwards (as \`devmlops local up\`; Ctrl-C stops it), with its
               dashboard page (the URL is printed)
  --json       print the summary as JSON on stdout
  -h, --help   this text

Exit codes: 0 every stage did what it should, 2 otherwise (the problems are listed).
`;

export const LOCAL_USAGE = `Usage: devmlops local up [--speed X] [--fresh]

Starts the local platform and keeps it running until Ctrl-C: S3 (s3rver), the SageMaker, Step Functions and
CloudWatch and Firehose APIs (AWS JSON protocol), the model endpoint (SageMaker runtime protocol) and the
inference API (API Gateway: POST <url>v1/predict, SigV4 with the printed keys, service execute-api, the
stage's throttling and request model), all on 127.0.0.1, with the rules, alarms and state machine of the synthesized app. A file put into the raw bucket is validated;
the drift check runs on its schedule in simulated time and a drift alarm starts retraining. It prints the
endpoints and how to point the AWS CLI or an SDK at them, and writes .devmlops/local/platform.json, which
\`devmlops train --local\` and \`devmlops predict --local\` read.

It also serves a dashboard page on 127.0.0.1 (its URL is printed): the CloudWatch dashboard of the synthesized
app, every widget drawn from the local metrics and alarm states and refreshed every 2 s, with links to the
latest drift and validation reports. Open it in a browser; it loads nothing from the network.

Options:
  --speed X    simulated seconds per real second (default 120: the hourly drift check runs every 30 s)
  --fresh      delete .devmlops/local first (otherwise S3 data is kept; models and endpoints are in memory)
  -h, --help   this text
`;

export const PREDICT_USAGE = `Usage: devmlops predict (--record JSON | --file records.jsonl) [--json] [--batch-size N]
                        [--local | --api-url URL | --stack-name NAME] [--region R]
                        [--endpoint-name NAME --bucket ARTIFACTS_BUCKET]

Scores records (JSON objects of field values by column name; the target may be left out) through the
inference API, POST <url>v1/predict, SigV4-signed (service execute-api), in batches of the API's limit
(inference.maxBatchSize in cdk.json, 100). The API validates every record as the data lake does, encodes
it with the deployed model's feature spec and calls the endpoint. The API is found in the InferenceApiUrl
output of the <project>-pipeline stack (CloudFormation DescribeStacks, credentials from the usual chain;
the caller needs the InferenceInvokePolicyArn policy), or the running local platform's with --local.
With --endpoint-name and --bucket it calls the SageMaker endpoint directly instead (InvokeEndpoint, the
same encoding done here; needs s3:GetObject on the artifacts bucket and sagemaker:InvokeEndpoint).

Prints a table (record, label, probability / probabilities / value) on stdout and the model version on
stderr. When the API refuses records (400 invalid-records), nothing is scored: every field error is
printed on stderr, naming the record (--record, or FILE:line), the field and the error code (type,
required, minimum, maximum, enum), and the exit code is 1.

Options:
  --record JSON          one record, e.g. '{"tenure_months": 3, "plan": "basic", ...}'
  --file FILE            JSON Lines, one record per line
  --local                use the running local platform (\`devmlops local up\`): its API and credentials
  --api-url URL          the API stage URL (the InferenceApiUrl output), instead of looking it up
  --stack-name NAME      the pipeline stack (default: <project>-pipeline, project from cdk.json)
  --region R             the region of the stack and the API (default: the URL's, else the SDK's)
  --batch-size N         records per request (default: inference.maxBatchSize from cdk.json, else 100)
  --endpoint-name NAME   the SageMaker endpoint (<project>-endpoint): call it directly, with --bucket
  --bucket NAME          the artifacts bucket (holds baselines/current.json), with --endpoint-name
  --json                 print {modelVersion, modelPackageArn, predictions} (the API's answer) on stdout
  -h, --help             this text

Exit codes: 0 scored, 1 records refused (field errors on stderr), 2 usage error, nothing deployed, the
stack or API not found, or the API failed (after retries on throttling and 5XX).
`;
