/** Help texts, kept apart from the commands so that `--help` loads nothing heavy. */

export const USAGE = `Usage: devmlops <command> [options]

Commands:
  validate --schema S.json FILE   validate a CSV (or .csv.gz) file with the same core as the Lambda
  schema [-o S.json]              print the dataset schema configured in cdk.json
  generate --rows N -o FILE       write deterministic sample data for the default schema
  demo                            run the local loop (no AWS account needed)

Run \`devmlops <command> --help\` for a command's options.
Exit codes: 0 success (validate: accepted), 1 validate: quarantined, 2 usage, IO or schema error.
`;

export const VALIDATE_USAGE = `Usage: devmlops validate --schema S.json FILE [--out-dir D] [--json]
                         [--max-invalid-fraction F] [--max-line-bytes N]

Validates a CSV file (.csv, or gzip by extension or content) against a dataset schema with the same
streaming core as the validation Lambda. \`devmlops schema -o S.json\` writes the project's schema.

Options:
  --schema FILE               dataset schema JSON (DESIGN.md section 4) (required)
  --out-dir DIR               write what the data lake would hold: curated.csv (valid rows),
                              quarantine.csv (invalid rows with an _errors column; or, for a file
                              quarantined whole, a copy of the original), and report.json
  --json                      print only the report JSON on stdout
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

export const DEMO_USAGE = `Usage: devmlops demo

Runs the loop locally, with no AWS account: a local S3 (s3rver on 127.0.0.1, a random port, storing
under .devmlops/demo/), sample files uploaded to the raw bucket, and the real validation Lambda handler
run on each "Object Created" event. Prints what landed in curated and quarantine.

Stages not built yet: training, deployment, drift detection and retraining.

Options:
  -h, --help   this text
`;
