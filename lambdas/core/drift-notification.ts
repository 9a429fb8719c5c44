import type { DriftReport } from './drift';

/**
 * The SNS message the drift check publishes when a window drifted: what drifted and where both reports are, as
 * s3:// URIs (for the CLI and SDKs) and S3 console links (for the operator reading the mail). Pure, so the text
 * is tested without SNS.
 */

export interface DriftNotificationInput {
  readonly project: string;
  readonly endpointName: string;
  readonly topicArn: string;
  readonly bucket: string;
  readonly jsonKey: string;
  readonly htmlKey: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly modelPackageArn?: string;
  readonly report: DriftReport;
}

export interface DriftNotification {
  readonly subject: string;
  readonly message: string;
  /** The `status` message attribute, as the pipeline's notifications carry one (subscribers filter on it). */
  readonly status: 'Drift';
  readonly htmlUri: string;
  readonly jsonUri: string;
  readonly htmlConsoleUrl: string;
  readonly jsonConsoleUrl: string;
}

/** SNS: under 100 characters, no line breaks or control characters (kept to printable ASCII here). */
export const MAX_SUBJECT_LENGTH = 99;

const CONSOLE_HOSTS: Readonly<Record<string, string>> = {
  aws: 'https://s3.console.aws.amazon.com',
  'aws-cn': 'https://console.amazonaws.cn',
  'aws-us-gov': 'https://console.amazonaws-us-gov.com',
};

/** Partition and region of an ARN (`arn:<partition>:<service>:<region>:...`). */
function arnParts(arn: string): { partition: string; region: string } {
  const p = arn.split(':');
  if (p.length < 6 || p[0] !== 'arn' || p[1] === '' || p[3] === '')
    throw new Error(`not a regional ARN: ${arn}`);
  return { partition: p[1], region: p[3] };
}

/** The S3 console page of one object, in the topic's partition and region. */
export function s3ConsoleUrl(bucket: string, key: string, arnInRegion: string): string {
  const { partition, region } = arnParts(arnInRegion);
  const host = CONSOLE_HOSTS[partition] ?? CONSOLE_HOSTS.aws;
  return `${host}/s3/object/${encodeURIComponent(bucket)}?region=${encodeURIComponent(region)}&prefix=${encodeURIComponent(key)}`;
}

/** Makes any text a valid SNS subject: printable ASCII only, cut to the limit. */
export function snsSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return ascii.length <= MAX_SUBJECT_LENGTH ? ascii : `${ascii.slice(0, MAX_SUBJECT_LENGTH - 3)}...`;
}

export function driftNotification(input: DriftNotificationInput): DriftNotification {
  const { report } = input;
  const htmlUri = `s3://${input.bucket}/${input.htmlKey}`;
  const jsonUri = `s3://${input.bucket}/${input.jsonKey}`;
  const htmlConsoleUrl = s3ConsoleUrl(input.bucket, input.htmlKey, input.topicArn);
  const jsonConsoleUrl = s3ConsoleUrl(input.bucket, input.jsonKey, input.topicArn);
  const drifted = report.features
    .filter((f) => f.drifted)
    .sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))
    .map((f) => `  - ${f.name}: PSI ${(f.psi ?? 0).toFixed(4)} (threshold ${f.threshold})`);
  const lines = [
    `Drift detected on ${input.endpointName} (project ${input.project}) in the window ${input.window.start} to ${input.window.end}: ` +
      `${report.driftedFeatures.length} of ${report.features.length} features drifted over ${report.samples} captured rows.`,
    '',
    'Drifted features:',
    ...drifted,
    `Largest PSI: ${report.maxDrift.toFixed(4)}.`,
    ...(report.predictions?.drifted
      ? [`The model outputs drifted too: PSI ${(report.predictions.psi ?? 0).toFixed(4)}.`]
      : []),
    ...(input.modelPackageArn !== undefined ? [`Model package: ${input.modelPackageArn}`] : []),
    '',
    'Report (HTML, opens in a browser):',
    `  ${htmlUri}`,
    `  ${htmlConsoleUrl}`,
    'Report (JSON):',
    `  ${jsonUri}`,
    `  ${jsonConsoleUrl}`,
    '',
    `Download the HTML report: aws s3 cp ${htmlUri} .`,
  ];
  return {
    subject: snsSubject(`[${input.project}] Drift detected on ${input.endpointName}`),
    message: `${lines.join('\n')}\n`,
    status: 'Drift',
    htmlUri,
    jsonUri,
    htmlConsoleUrl,
    jsonConsoleUrl,
  };
}
