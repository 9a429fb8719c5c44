import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Fn } from 'aws-cdk-lib';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { trainingStateMachine } from '../../lib/local/asl';
import { LocalPlatform } from '../../lib/local/platform';
import { describeApp, synthesizeApp } from '../../lib/local/synthesize';
import { LocalTemplates } from '../../lib/local/template';

/**
 * The local run follows the template (issue 5 "Tests that must exist"): a test-only variant of the pipeline stack
 * with one extra state, added in CDK through an escape hatch, shows up in the local execution; the unchanged app
 * runs without it. Nothing in lib/local knows the state's name.
 */

jest.setTimeout(120_000);

const MARKER = 'TestOnlyMarker';

/**
 * Puts a Pass state in front of ApplyDefaults through the L1 escape hatch. The definition is one token whose
 * parts (bucket names, ARNs) become cross-stack imports at synthesis, so it is edited with CloudFormation's own
 * Fn::Split/Fn::Select/Fn::Join rather than as text, keeping every reference intact.
 */
function addMarkerState(machine: CfnStateMachine): void {
  const head = '{"StartAt":"ApplyDefaults","States":{';
  const rest = Fn.select(1, Fn.split(head, machine.definitionString!));
  machine.definitionString = Fn.join('', [
    `{"StartAt":"${MARKER}","States":{"${MARKER}":{"Type":"Pass","Result":"from CDK","ResultPath":"$.marker","Next":"ApplyDefaults"},`,
    rest,
  ]);
}

it('runs a state added in CDK, and only in the variant', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmlops-variant-'));
  // One platform per process (the handlers load once, as in a Lambda sandbox): the unchanged app is looked at
  // through its template only.
  const plain = trainingStateMachine(new LocalTemplates(synthesizeApp().templates)).definition;
  expect(plain.StartAt).toBe('ApplyDefaults');
  expect(Object.keys(plain.States)).not.toContain(MARKER);
  const platform = await LocalPlatform.start({
    directory: dir,
    app: describeApp(
      synthesizeApp({
        customize: (stacks) =>
          addMarkerState(stacks.pipeline.training.stateMachine.node.defaultChild as CfnStateMachine),
      }),
    ),
  });
  try {
    // No data in curated: the run stops at Prepare, which is all this test needs to see.
    const run = await platform.startExecution({ trigger: 'manual', dataset: platform.names.dataset }).done;
    expect(run.path.slice(0, 2)).toEqual([MARKER, 'ApplyDefaults']);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'StateExited', state: expect.objectContaining({ name: MARKER }) }),
    );
    expect(run.path).toContain('Prepare');
    expect(run.status).toBe('FAILED');
    expect(run.path.slice(-2)).toEqual(['NotifyFailure', 'PipelineFailed']);
  } finally {
    await platform.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
