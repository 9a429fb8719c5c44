// Run as a child process by killed.test.ts: one delivery of the SQS event in SQS_EVENT to the validation handler,
// with the environment the parent gives (the handler reads it once, at import, as at a cold start).
import '../helpers/validation-env';
import type { SQSEvent } from 'aws-lambda';
import { handler } from '../../lambdas/handlers/validate';

handler(JSON.parse(process.env.SQS_EVENT ?? '') as SQSEvent).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  },
);
