import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { buildApp, type DevMlopsStacks } from '../app';
import { CONFIG_CONTEXT_KEY } from '../config';
import { DevFunction } from '../constructs/lambda-function';
import type { AppDescription, DescribeOptions, FunctionSource, ResourceAddress } from './app-description';
import type { CfnTemplate, StackTemplate } from './template';

/**
 * Synthesis of the app for the local runtime, and its description (lib/local/app-description.ts). This is the one
 * module of lib/local that loads aws-cdk-lib: the platform runs it in a child process (describeAppInChild), and
 * tests that look at constructs import it directly.
 */

const ROOT = path.resolve(__dirname, '..', '..');

export interface SynthesizeOptions extends DescribeOptions {
  /**
   * Changes the app after it is built and before it is synthesized (a test-only variant of a stack, e.g. an extra
   * state through an escape hatch). @default no change
   */
  readonly customize?: (stacks: DevMlopsStacks) => void;
}

export interface SynthesizedApp {
  readonly app: App;
  readonly stacks: DevMlopsStacks;
  readonly templates: StackTemplate[];
}

/**
 * Builds the app in-process, from cdk.json's context exactly as `cdk synth` sees it, and synthesizes it. Lambda
 * bundling is skipped: only the templates are read, and the local runtime runs the handlers from source.
 */
export function synthesizeApp(options: SynthesizeOptions = {}): SynthesizedApp {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const context: Record<string, unknown> = {
    ...(cdkJson.context ?? {}),
    'aws:cdk:bundling-stacks': [],
    ...options.context,
  };
  if (options.config !== undefined) context[CONFIG_CONTEXT_KEY] = options.config;
  const app = new App({ context });
  const stacks = buildApp(app);
  options.customize?.(stacks);
  const assembly = app.synth();
  const templates = assembly.stacks.map((s) => ({
    stackName: s.stackName,
    template: s.template as CfnTemplate,
  }));
  return { app, stacks, templates };
}

/** The stack and logical ID of a construct's CloudFormation resource. */
function addressOf(construct: IConstruct): ResourceAddress {
  const el = (construct.node.defaultChild ?? construct) as CfnElement;
  const stack = Stack.of(el);
  return { stackName: stack.stackName, logicalId: stack.resolve(el.logicalId) as string };
}

/** Every DevFunction under the scopes: which file, which export (the rest comes from the template). */
export function functionSources(scopes: readonly IConstruct[]): FunctionSource[] {
  const out: FunctionSource[] = [];
  for (const scope of scopes)
    for (const c of scope.node.findAll())
      if (c instanceof DevFunction)
        out.push({ ...addressOf(c.function), entry: c.entry, handlerName: c.handlerName });
  return out;
}

/** What the local platform needs of a synthesized app (see AppDescription). */
export function describeApp(built: SynthesizedApp): AppDescription {
  const { stacks } = built;
  const lake = stacks.dataLake.dataLake;
  const training = stacks.pipeline.training;
  return {
    config: stacks.config,
    templates: built.templates,
    functions: functionSources([stacks.dataLake, stacks.pipeline, stacks.monitoring]),
    resources: {
      rawBucket: addressOf(lake.raw),
      curatedBucket: addressOf(lake.curated),
      quarantineBucket: addressOf(lake.quarantine),
      artifactsBucket: addressOf(lake.artifacts),
      trainingStateMachine: addressOf(training.stateMachine),
    },
    endpointName: training.names.endpoint,
  };
}

/** The child of describeAppInChild: DescribeOptions as JSON on stdin, the AppDescription as JSON on stdout. */
async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const options = (text.trim() === '' ? {} : JSON.parse(text)) as DescribeOptions;
  const description = JSON.stringify(describeApp(synthesizeApp(options)));
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(description, (e) => (e ? reject(e) : resolve())),
  );
}

if (require.main === module) {
  main().catch((e: unknown) => {
    // The parent reports stderr as the failure: the message alone (a config error says what is wrong).
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
