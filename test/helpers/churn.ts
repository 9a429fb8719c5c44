import { encodeFeatures, encodeLabel, featureSpec } from '../../lambdas/core/encoding';
import { readProjectConfig } from '../../lib/config';
import { sampleCsv } from '../../lib/local/sample-data';

/** The feature spec of the project's dataset (cdk.json). */
export const churnSpec = featureSpec(readProjectConfig().dataset);

/** Generated churn rows through the real encoding: the XGBoost CSV Prepare writes (label first, no header). */
export function churnCsv(rows: number, seed: number): string {
  const lines = sampleCsv({ rows, seed }).trimEnd().split('\n');
  const header = lines[0].split(',');
  const cols = churnSpec.features.map((f) => header.indexOf(f.name));
  const target = header.indexOf(churnSpec.target.name);
  const out = lines.slice(1).map((l) => {
    const cells = l.split(',');
    return `${encodeLabel(churnSpec, cells[target])},${encodeFeatures(
      churnSpec,
      cols.map((c) => cells[c]),
    )}`;
  });
  return `${out.join('\n')}\n`;
}
