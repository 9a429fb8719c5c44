import * as path from 'node:path';
import { PLATFORM_INFO_FILE, readPlatformInfo, type PlatformInfo } from '../local/platform-info';
import { CliError } from './errors';

/** Where `local up` keeps its data and its platform.json. */
export const LOCAL_DIRECTORY = path.join('.devmlops', 'local');

/** The running platform `train --local` and `predict --local` talk to; a clear error when there is none. */
export function runningPlatform(directory = LOCAL_DIRECTORY): PlatformInfo {
  const info = readPlatformInfo(directory);
  if (!info)
    throw new CliError(
      `no local platform is running (no live ${path.join(directory, PLATFORM_INFO_FILE)}): start one with \`devmlops local up\` in another terminal`,
    );
  return info;
}

/** What to paste to point the AWS CLI or an SDK at the platform. */
export function connectionHelp(info: PlatformInfo): string {
  const { names } = info;
  return [
    ...(info.dashboardUrl === undefined
      ? []
      : [`  dashboard:             ${info.dashboardUrl}   (the CloudWatch dashboard, from local metrics)`]),
    `  S3 (s3rver):           ${info.s3Endpoint}   buckets: ${Object.values(names.buckets).join(', ')}`,
    `  AWS APIs:              ${info.awsEndpoint}   (SageMaker, Step Functions, CloudWatch, Firehose: AWS JSON protocol)`,
    `  model endpoint:        ${info.runtimeEndpoint}/endpoints/${names.endpointName}/invocations`,
    ...(info.apiUrl === undefined
      ? []
      : [
          `  inference API:         ${info.apiUrl}v1/predict   (POST {"records": [...]}, SigV4, service execute-api)`,
        ]),
    '',
    '  Point the AWS CLI or an SDK at it:',
    `    export AWS_ACCESS_KEY_ID=${info.credentials?.accessKeyId ?? 'S3RVER'} AWS_SECRET_ACCESS_KEY=${info.credentials?.secretAccessKey ?? 'S3RVER'} AWS_REGION=${names.region}`,
    `    export AWS_ENDPOINT_URL_S3=${info.s3Endpoint} AWS_ENDPOINT_URL_SAGEMAKER=${info.awsEndpoint}`,
    `    export AWS_ENDPOINT_URL_SFN=${info.awsEndpoint} AWS_ENDPOINT_URL_CLOUDWATCH=${info.awsEndpoint}`,
    `    export AWS_ENDPOINT_URL_FIREHOSE=${info.awsEndpoint}`,
    `    export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=${info.runtimeEndpoint}`,
    `    aws s3 cp data.csv s3://${names.buckets.raw}/${names.dataset}/data.csv   # validated on arrival`,
    `    aws sagemaker describe-endpoint --endpoint-name ${names.endpointName}`,
    ...(info.apiUrl === undefined
      ? []
      : [
          `    curl --aws-sigv4 aws:amz:${names.region}:execute-api --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \\`,
          `      -H 'content-type: application/json' -d '{"records": [{"tenure_months": 3, "plan": "basic"}]}' ${info.apiUrl}v1/predict`,
          `    TypeScript: new DevMlopsClient({ apiUrl: '${info.apiUrl}', region: '${names.region}' }).predict(records)   // lib/client`,
        ]),
    '',
    "  Or: devmlops train --local --wait, devmlops predict --local --record '{...}'",
  ].join('\n');
}
