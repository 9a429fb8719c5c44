import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';
import { build, defaultConfigInput, render, type Json } from './helpers';

/**
 * Security checks over the whole synthesized app, every stack and every resource, so that what other parts add
 * later is checked too. Each check runs for the configurations that change the resources: the default, a
 * serverless endpoint, the destroy flag, and scheduled training on new data.
 *
 * - No Allow statement of any policy (identity, trust or resource policy) has a `*` or `service:*` action, nor
 *   NotAction. One documented exception: the key policy statement that delegates a KMS key to this account's IAM
 *   (`kms:*` for the account root), which AWS itself writes as the default key policy.
 * - Every identity-policy resource with a `*` carries a cdk-nag AwsSolutions-IAM5 acknowledgement with a reason.
 * - No resource policy, trust policy or Lambda permission lets in another account: principals are this account,
 *   a service (with a source condition on Lambda permissions), a role of this app, or `*` restricted by
 *   aws:SourceAccount, aws:SourceArn or aws:PrincipalAccount.
 * - Every bucket: default encryption, all four public-access blocks, ACLs disabled, and a Deny of requests
 *   without TLS on the bucket and its objects. Every queue and topic: encrypted, and TLS-only by policy.
 * - iam:PassRole only names this app's roles; a state machine can pass only the SageMaker role, to SageMaker.
 * - Every Lambda function is invoked in a way that cannot lose an event: synchronously (Step Functions, API
 *   Gateway, a custom resource), from SQS with a redrive policy to a DLQ, or asynchronously with a DLQ or an
 *   on-failure destination.
 * - cdk-nag AwsSolutions reports nothing unacknowledged in any stack.
 *
 * What each configuration has (wildcards and their reasons, how each function is invoked) is written to
 * test-artifacts/security/<configuration>.md.
 */

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts', 'security');

type Resources = Record<string, { Type: string; Properties?: Json }>;

interface StackInfo {
  readonly stack: Stack;
  readonly name: string;
  readonly resources: Resources;
  readonly outputs: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  /** Logical ID -> its construct, for acknowledgements. */
  readonly constructs: Map<string, IConstruct>;
}

interface Statement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Sid?: string;
}

interface PolicyDoc {
  readonly stack: StackInfo;
  readonly logicalId: string;
  readonly type: string;
  readonly kind: 'identity' | 'trust' | 'resource';
  /** Where in the resource the document sits, e.g. `Policies[0].PolicyDocument`. */
  readonly at: string;
  readonly statements: Statement[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function stacksOf(built: ReturnType<typeof build>): StackInfo[] {
  const assembly = built.app.synth();
  return built.app.node.children.filter(Stack.isStack).map((stack) => {
    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Resources;
      Outputs?: StackInfo['outputs'];
    };
    const constructs = new Map<string, IConstruct>();
    const visit = (c: IConstruct) => {
      if (CfnElement.isCfnElement(c)) constructs.set(stack.resolve(c.logicalId) as string, c);
      c.node.children.forEach(visit);
    };
    visit(stack);
    return {
      stack,
      name: stack.stackName,
      resources: template.Resources,
      outputs: template.Outputs ?? {},
      constructs,
    };
  });
}

/** Every policy document in every resource: any object with a Statement, or a JSON string holding one. */
function policyDocs(stacks: readonly StackInfo[]): PolicyDoc[] {
  const out: PolicyDoc[] = [];
  for (const stack of stacks)
    for (const [logicalId, r] of Object.entries(stack.resources)) {
      const kindAt = (at: string): PolicyDoc['kind'] => {
        if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') return 'identity';
        if (/^AWS::IAM::(Role|User|Group)$/.test(r.Type))
          return at.startsWith('AssumeRolePolicyDocument') ? 'trust' : 'identity';
        return 'resource';
      };
      const visit = (v: unknown, at: string) => {
        if (typeof v === 'string' && /Polic(y|yDocument)$/.test(at) && v.includes('Statement')) {
          visit(JSON.parse(v) as unknown, at);
          return;
        }
        if (v === null || typeof v !== 'object') return;
        const o = v as Json;
        if ('Statement' in o) {
          out.push({
            stack,
            logicalId,
            type: r.Type,
            kind: kindAt(at),
            at,
            statements: asArray(o.Statement as Statement | Statement[]),
          });
          return;
        }
        // A policy document built with Fn::Join (Logs::ResourcePolicy) reads as JSON once rendered.
        if ('Fn::Join' in o && /Polic(y|yDocument)$/.test(at)) {
          const text = render(o);
          if (text.includes('"Statement"')) visit(text, at);
          return;
        }
        for (const [k, x] of Object.entries(o))
          visit(x, Array.isArray(o) ? `${at}[${k}]` : at ? `${at}.${k}` : k);
      };
      visit(r.Properties ?? {}, '');
    }
  return out;
}

const where = (d: PolicyDoc, s?: Statement) =>
  `${d.stack.name}/${d.logicalId} (${d.type} ${d.at})${s?.Sid ? ` ${s.Sid}` : ''}`;

// ---- actions ----

const WILDCARD_ACTION = /^(\*|[a-z0-9-]+:\*)$/i;

/** The key-policy statement that delegates a KMS key to this account's IAM policies: AWS's default key policy. */
function isKeyAdminDelegation(d: PolicyDoc, s: Statement): boolean {
  const principal = s.Principal as { AWS?: unknown } | undefined;
  const principals = asArray(principal?.AWS).map((p) => render(p));
  return (
    d.type === 'AWS::KMS::Key' &&
    JSON.stringify(asArray(s.Action)) === '["kms:*"]' &&
    principals.length === 1 &&
    principals[0] === 'arn:AWS::Partition:iam::AWS::AccountId:root' &&
    Object.keys(principal ?? {}).length === 1
  );
}

function wildcardActions(docs: readonly PolicyDoc[]): { violations: string[]; delegations: string[] } {
  const violations: string[] = [];
  const delegations: string[] = [];
  for (const d of docs)
    for (const s of d.statements) {
      if (s.Effect !== 'Allow') continue;
      if (s.NotAction !== undefined) violations.push(`${where(d, s)}: Allow with NotAction`);
      const wild = asArray(s.Action).filter((a) => typeof a === 'string' && WILDCARD_ACTION.test(a));
      if (wild.length === 0) continue;
      if (isKeyAdminDelegation(d, s)) delegations.push(`${d.stack.name}/${d.logicalId}`);
      else violations.push(`${where(d, s)}: ${wild.join(', ')}`);
    }
  return { violations, delegations };
}

// ---- wildcard resources and their acknowledgements ----

/** The reason of an acknowledgement of `ruleId` on `c` or an ancestor, as cdk-nag looks it up. */
function acknowledgement(c: IConstruct | undefined, ruleId: string): string | undefined {
  for (let cur = c; cur; cur = cur.node.scope)
    for (const m of cur.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !m.data) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>))
        if (id.replace(/^annotation::/i, '') === ruleId) return reason;
    }
  return undefined;
}

interface WildcardGrant {
  readonly policy: string;
  readonly actions: string;
  readonly resource: string;
  readonly reason: string | undefined;
}

function wildcardResources(docs: readonly PolicyDoc[]): WildcardGrant[] {
  const out: WildcardGrant[] = [];
  for (const d of docs) {
    if (d.kind !== 'identity') continue;
    for (const s of d.statements) {
      if (s.Effect !== 'Allow') continue;
      for (const r of asArray(s.Resource)) {
        const flat = flattenCfnReference(r);
        if (!flat.includes('*')) continue;
        out.push({
          policy: where(d, s),
          actions: asArray(s.Action).join(' '),
          resource: flat,
          reason: acknowledgement(
            d.stack.constructs.get(d.logicalId),
            `AwsSolutions-IAM5[Resource::${flat}]`,
          ),
        });
      }
    }
  }
  return out;
}

// ---- principals ----

/** Export names of every stack of the app: an Fn::ImportValue of one of them is a resource of this app. */
function exportNames(stacks: readonly StackInfo[]): Set<string> {
  return new Set(
    stacks.flatMap((s) => Object.values(s.outputs).map((o) => (o.Export ? String(o.Export.Name) : ''))),
  );
}

const SOURCE_KEYS = ['aws:sourceaccount', 'aws:sourcearn', 'aws:principalaccount'];

/** A condition that pins the caller to this account or to one of this app's resources. */
function pinnedToThisAccount(cond: Statement['Condition'], ownRef: (v: unknown) => boolean): boolean {
  for (const [op, kv] of Object.entries(cond ?? {})) {
    if (/IfExists$/.test(op) || /^Not|^ForAnyValue/.test(op)) continue;
    for (const [k, v] of Object.entries(kv))
      if (SOURCE_KEYS.includes(k.toLowerCase()) && asArray(v).length > 0 && asArray(v).every(ownRef))
        return true;
  }
  return false;
}

function principalViolations(docs: readonly PolicyDoc[], stacks: readonly StackInfo[]): string[] {
  const exports = exportNames(stacks);
  const violations: string[] = [];
  const isService = (p: string) => /\.amazonaws\.com(\.cn)?$/.test(p) || /\.AWS::URLSuffix$/.test(p);
  for (const d of docs) {
    const own = (v: unknown): boolean => {
      const o = v as Json;
      if (o && typeof o === 'object' && 'Fn::ImportValue' in o)
        return exports.has(String(o['Fn::ImportValue']));
      if (o && typeof o === 'object' && ('Fn::GetAtt' in o || 'Ref' in o)) {
        const id = 'Ref' in o ? String(o.Ref) : String((o['Fn::GetAtt'] as string[])[0]);
        return id === 'AWS::AccountId' || id in d.stack.resources;
      }
      const text = render(v);
      // An ARN or account of this account, never a literal account ID.
      return text.includes('AWS::AccountId') && !/\d{12}/.test(text);
    };
    for (const s of d.statements) {
      if (s.Effect !== 'Allow') continue;
      if (s.NotPrincipal !== undefined) violations.push(`${where(d, s)}: Allow with NotPrincipal`);
      if (d.kind === 'identity') continue;
      const p = s.Principal;
      const pinned = pinnedToThisAccount(s.Condition, own);
      const entries: [string, unknown][] =
        p === '*'
          ? [['AWS', '*']]
          : Object.entries((p ?? {}) as Json).flatMap(([k, v]) =>
              asArray(v).map((x): [string, unknown] => [k, x]),
            );
      if (entries.length === 0) violations.push(`${where(d, s)}: an Allow without a principal`);
      for (const [kind, value] of entries) {
        const text = render(value);
        const ok =
          (kind === 'Service' && isService(text)) ||
          (kind === 'AWS' && text !== '*' && own(value)) ||
          (kind === 'AWS' && text === '*' && pinned);
        if (!ok)
          violations.push(
            `${where(d, s)}: principal ${kind} ${text}${pinned ? '' : ' without a source condition'}`,
          );
      }
    }
  }
  // Lambda permissions are resource policies too, written as properties.
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      if (r.Type !== 'AWS::Lambda::Permission') continue;
      const p = r.Properties ?? {};
      const principal = render(p.Principal);
      const sourced = p.SourceArn !== undefined || p.SourceAccount !== undefined;
      if (isService(principal) ? !sourced : !principal.includes('AWS::AccountId'))
        violations.push(
          `${stack.name}/${id} (Lambda permission): principal ${principal}${sourced ? '' : ', no SourceArn/SourceAccount'}`,
        );
    }
  return violations;
}

/** Every Allow of a resource or trust policy: who it lets in, and on which condition keys. */
function grantsToPrincipals(docs: readonly PolicyDoc[]): string[] {
  const out: string[] = [];
  for (const d of docs) {
    if (d.kind === 'identity') continue;
    for (const s of d.statements) {
      if (s.Effect !== 'Allow') continue;
      const who =
        s.Principal === '*'
          ? '*'
          : Object.entries((s.Principal ?? {}) as Json)
              .map(
                ([k, v]) =>
                  `${k} ${asArray(v)
                    .map((x) => render(x))
                    .join(', ')}`,
              )
              .join('; ');
      const keys = Object.values(s.Condition ?? {}).flatMap((kv) => Object.keys(kv));
      out.push(`${where(d, s)}: ${who}${keys.length > 0 ? ` if ${keys.join(', ')}` : ''}`);
    }
  }
  return out;
}

// ---- buckets, queues, topics ----

/** A Deny of every S3 action without TLS, on the bucket and on its objects. */
function deniesInsecureTransport(stack: StackInfo, bucketId: string, resourceType: string): boolean {
  const refersTo = (v: unknown) => JSON.stringify(v).includes(`"${bucketId}"`);
  const action =
    resourceType === 'AWS::S3::Bucket' ? 's3:*' : resourceType === 'AWS::SQS::Queue' ? 'sqs:*' : null;
  return Object.values(stack.resources).some((r) => {
    const target =
      r.Type === 'AWS::S3::BucketPolicy'
        ? r.Properties?.Bucket
        : r.Type === 'AWS::SQS::QueuePolicy'
          ? r.Properties?.Queues
          : r.Type === 'AWS::SNS::TopicPolicy'
            ? r.Properties?.Topics
            : undefined;
    if (target === undefined || !refersTo(target)) return false;
    return asArray((r.Properties?.PolicyDocument as Json).Statement as Statement[]).some((s) => {
      const secure = s.Condition?.Bool?.['aws:SecureTransport'];
      const everyone = s.Principal === '*' || render((s.Principal as { AWS?: unknown })?.AWS) === '*';
      const actions = asArray(s.Action);
      const resources = asArray(s.Resource).map((x) => render(x));
      const coversActions = action === null ? actions.length > 0 : actions.includes(action);
      const coversObjects =
        resourceType !== 'AWS::S3::Bucket' ||
        (resources.includes(`${bucketId}.Arn`) && resources.includes(`${bucketId}.Arn/*`));
      return s.Effect === 'Deny' && everyone && String(secure) === 'false' && coversActions && coversObjects;
    });
  });
}

function storageViolations(stacks: readonly StackInfo[]): { violations: string[]; buckets: number } {
  const violations: string[] = [];
  let buckets = 0;
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      const p = r.Properties ?? {};
      const at = `${stack.name}/${id}`;
      if (r.Type === 'AWS::S3::Bucket') {
        buckets++;
        const sse = asArray(
          (p.BucketEncryption as { ServerSideEncryptionConfiguration?: Json[] } | undefined)
            ?.ServerSideEncryptionConfiguration,
        ).map((c) => (c.ServerSideEncryptionByDefault as Json | undefined)?.SSEAlgorithm);
        if (!sse.some((a) => a === 'aws:kms' || a === 'AES256' || a === 'aws:kms:dsse'))
          violations.push(`${at}: no default encryption`);
        const pab = (p.PublicAccessBlockConfiguration ?? {}) as Json;
        for (const k of ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'])
          if (pab[k] !== true) violations.push(`${at}: ${k} is not true`);
        const ownership = JSON.stringify(p.OwnershipControls ?? {});
        if (!ownership.includes('BucketOwnerEnforced')) violations.push(`${at}: ACLs are not disabled`);
        if (!deniesInsecureTransport(stack, id, r.Type))
          violations.push(`${at}: no Deny of aws:SecureTransport false`);
      }
      if (r.Type === 'AWS::SQS::Queue') {
        if (p.KmsMasterKeyId === undefined && p.SqsManagedSseEnabled !== true)
          violations.push(`${at}: queue not encrypted`);
        if (!deniesInsecureTransport(stack, id, r.Type))
          violations.push(`${at}: queue allows requests without TLS`);
      }
      if (r.Type === 'AWS::SNS::Topic') {
        if (p.KmsMasterKeyId === undefined) violations.push(`${at}: topic not encrypted`);
        if (!deniesInsecureTransport(stack, id, r.Type))
          violations.push(`${at}: topic allows publishing without TLS`);
      }
    }
  return { violations, buckets };
}

// ---- references between resources ----

interface Ref {
  readonly stack: StackInfo;
  readonly id: string;
}

/** The resource an expression points at (Ref, GetAtt, a join starting with one, or an import of this app). */
function target(expr: unknown, from: StackInfo, stacks: readonly StackInfo[]): Ref | undefined {
  const o = expr as Json;
  if (!o || typeof o !== 'object') return undefined;
  if ('Ref' in o) return String(o.Ref) in from.resources ? { stack: from, id: String(o.Ref) } : undefined;
  if ('Fn::GetAtt' in o) {
    const id = String((o['Fn::GetAtt'] as string[])[0]);
    return id in from.resources ? { stack: from, id } : undefined;
  }
  if ('Fn::Join' in o) {
    const parts = (o['Fn::Join'] as [string, unknown[]])[1];
    return parts.length > 0 ? target(parts[0], from, stacks) : undefined;
  }
  if ('Fn::ImportValue' in o) {
    for (const s of stacks)
      for (const out of Object.values(s.outputs))
        if (out.Export && JSON.stringify(out.Export.Name) === JSON.stringify(o['Fn::ImportValue']))
          return target(out.Value, s, stacks);
  }
  return undefined;
}

const key = (r: Ref) => `${r.stack.name}/${r.id}`;

/** Identity statements attached to each role: its inline policies and the AWS::IAM::Policy resources naming it. */
function roleStatements(stacks: readonly StackInfo[]): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  const add = (role: Ref, statements: Statement[]) =>
    out.set(key(role), [...(out.get(key(role)) ?? []), ...statements]);
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::IAM::Role')
        for (const pol of asArray(p.Policies as Json[]))
          add({ stack, id }, asArray((pol.PolicyDocument as Json).Statement as Statement[]));
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        for (const role of asArray(p.Roles)) {
          const t = target(role, stack, stacks);
          if (t) add(t, asArray((p.PolicyDocument as Json).Statement as Statement[]));
        }
    }
  return out;
}

/** Roles whose trust policy lets in exactly the service given. */
function rolesTrusting(stacks: readonly StackInfo[], service: string): Set<string> {
  const out = new Set<string>();
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      if (r.Type !== 'AWS::IAM::Role') continue;
      const trust = asArray((r.Properties?.AssumeRolePolicyDocument as Json).Statement as Statement[]);
      const services = trust.flatMap((s) =>
        asArray((s.Principal as { Service?: unknown })?.Service).map((x) => render(x)),
      );
      if (services.length > 0 && services.every((x) => x === service)) out.add(`${stack.name}/${id}`);
    }
  return out;
}

interface PassRole {
  readonly holder: string;
  readonly roles: string[];
  readonly passedTo: string | undefined;
}

function passRoles(stacks: readonly StackInfo[]): { grants: PassRole[]; violations: string[] } {
  const grants: PassRole[] = [];
  const violations: string[] = [];
  const statements = roleStatements(stacks);
  const roleIds = new Set(
    stacks.flatMap((s) =>
      Object.entries(s.resources)
        .filter(([, r]) => r.Type === 'AWS::IAM::Role')
        .map(([id]) => `${s.name}/${id}`),
    ),
  );
  const sagemakerRoles = rolesTrusting(stacks, 'sagemaker.amazonaws.com');
  const stateMachineRoles = new Set<string>();
  for (const stack of stacks)
    for (const r of Object.values(stack.resources))
      if (r.Type === 'AWS::StepFunctions::StateMachine') {
        const t = target(r.Properties?.RoleArn, stack, stacks);
        if (t) stateMachineRoles.add(key(t));
      }
  for (const stack of stacks)
    for (const [id] of Object.entries(stack.resources)) {
      const holder = `${stack.name}/${id}`;
      for (const s of statements.get(holder) ?? []) {
        if (s.Effect !== 'Allow' || !asArray(s.Action).some((a) => /^iam:(PassRole|Pass\*|\*)$/i.test(a)))
          continue;
        const roles = asArray(s.Resource).map((r) => {
          const t = target(r, stack, stacks);
          return t ? key(t) : flattenCfnReference(r);
        });
        const passedTo = s.Condition?.StringEquals?.['iam:PassedToService'] as string | undefined;
        grants.push({ holder, roles, passedTo });
        for (const role of roles)
          if (!roleIds.has(role))
            violations.push(`${holder}: iam:PassRole on ${role}, not a role of this app`);
        if (stateMachineRoles.has(holder)) {
          for (const role of roles)
            if (!sagemakerRoles.has(role)) violations.push(`${holder}: a state machine may pass ${role}`);
          if (passedTo !== 'sagemaker.amazonaws.com')
            violations.push(`${holder}: iam:PassRole without iam:PassedToService sagemaker.amazonaws.com`);
        }
      }
    }
  return { grants, violations };
}

// ---- how each Lambda function is invoked ----

type Invocation =
  | 'sqs'
  | 'step-functions'
  | 'api-gateway'
  | 'custom-resource'
  | 'lambda'
  | 'async:events'
  | 'async:s3'
  | 'async:sns'
  | 'async:other';

interface FunctionUse {
  readonly fn: string;
  readonly invocations: Set<Invocation>;
  dlq: boolean;
  readonly notes: string[];
}

function functionUses(stacks: readonly StackInfo[]): FunctionUse[] {
  const uses = new Map<string, FunctionUse>();
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources))
      if (r.Type === 'AWS::Lambda::Function') {
        const p = r.Properties ?? {};
        const dlq = (p.DeadLetterConfig as Json | undefined)?.TargetArn !== undefined;
        uses.set(`${stack.name}/${id}`, {
          fn: `${stack.name}/${id}`,
          invocations: new Set(),
          dlq,
          notes: [],
        });
      }
  const use = (expr: unknown, stack: StackInfo) => {
    const t = target(expr, stack, stacks);
    return t ? uses.get(key(t)) : undefined;
  };
  const statements = roleStatements(stacks);
  const stateMachineRoles = new Set<string>();
  const functionRoles = new Map<string, string>();
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      const p = r.Properties ?? {};
      const t = target(p.RoleArn ?? p.Role, stack, stacks);
      if (r.Type === 'AWS::StepFunctions::StateMachine' && t) stateMachineRoles.add(key(t));
      if (r.Type === 'AWS::Lambda::Function' && t) functionRoles.set(key(t), `${stack.name}/${id}`);
    }
  for (const stack of stacks)
    for (const [id, r] of Object.entries(stack.resources)) {
      const p = r.Properties ?? {};
      switch (r.Type) {
        case 'AWS::Lambda::EventSourceMapping': {
          const u = use(p.FunctionName, stack);
          const queue = target(p.EventSourceArn, stack, stacks);
          const q = queue ? queue.stack.resources[queue.id] : undefined;
          if (!u) break;
          if (q?.Type === 'AWS::SQS::Queue') {
            u.invocations.add('sqs');
            if ((q.Properties?.RedrivePolicy as Json | undefined)?.deadLetterTargetArn !== undefined)
              u.notes.push('sqs redrive to a DLQ');
            else u.notes.push('NO redrive policy on its queue');
          } else u.invocations.add('async:other');
          break;
        }
        case 'AWS::Lambda::Permission': {
          const u = use(p.FunctionName, stack);
          const principal = render(p.Principal);
          if (!u) break;
          if (principal.startsWith('apigateway.')) u.invocations.add('api-gateway');
          else if (principal.startsWith('events.')) u.invocations.add('async:events');
          else if (principal.startsWith('s3.')) u.invocations.add('async:s3');
          else if (principal.startsWith('sns.')) u.invocations.add('async:sns');
          else u.invocations.add('async:other');
          break;
        }
        case 'AWS::Events::Rule':
          for (const t of asArray(p.Targets as Json[])) use(t.Arn, stack)?.invocations.add('async:events');
          break;
        case 'AWS::Scheduler::Schedule':
          use((p.Target as Json | undefined)?.Arn, stack)?.invocations.add('async:events');
          break;
        case 'AWS::SNS::Subscription':
          if (p.Protocol === 'lambda') use(p.Endpoint, stack)?.invocations.add('async:sns');
          break;
        default:
          if (p.ServiceToken !== undefined) use(p.ServiceToken, stack)?.invocations.add('custom-resource');
      }
      if (r.Type === 'AWS::IAM::Role') {
        const holder = `${stack.name}/${id}`;
        for (const s of statements.get(holder) ?? []) {
          if (s.Effect !== 'Allow' || !asArray(s.Action).includes('lambda:InvokeFunction')) continue;
          for (const res of asArray(s.Resource)) {
            const u = use(res, stack);
            if (!u) continue;
            if (stateMachineRoles.has(holder)) u.invocations.add('step-functions');
            else if (functionRoles.has(holder)) {
              u.invocations.add('lambda');
              const note = `invoked by ${functionRoles.get(holder)}`;
              if (!u.notes.includes(note)) u.notes.push(note);
            }
          }
        }
      }
    }
  // An on-failure destination is as good as a DLQ for asynchronous invocations.
  for (const stack of stacks)
    for (const r of Object.values(stack.resources))
      if (r.Type === 'AWS::Lambda::EventInvokeConfig') {
        const u = use(r.Properties?.FunctionName, stack);
        const onFailure = (
          (r.Properties?.DestinationConfig as Json | undefined)?.OnFailure as Json | undefined
        )?.Destination;
        if (u && onFailure !== undefined) {
          u.dlq = true;
          u.notes.push('on-failure destination');
        }
      }
  return [...uses.values()];
}

function invocationViolations(uses: readonly FunctionUse[]): string[] {
  const violations: string[] = [];
  for (const u of uses) {
    if (u.invocations.size === 0)
      violations.push(`${u.fn}: no known invoker (classify it in security.test.ts)`);
    if ([...u.invocations].some((i) => i.startsWith('async:')) && !u.dlq)
      violations.push(`${u.fn}: invoked asynchronously (${[...u.invocations].join(', ')}) without a DLQ`);
    if (u.invocations.has('sqs') && u.notes.includes('NO redrive policy on its queue'))
      violations.push(`${u.fn}: its SQS queue has no redrive policy`);
  }
  return violations;
}

// ---- cdk-nag ----

function nagViolations(stacks: readonly StackInfo[]): string[] {
  return stacks.flatMap((s) =>
    new AwsSolutionsChecks()
      .validateScope(s.stack)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? '?'}`),
      ),
  );
}

// ---- the report written next to the tests ----

function writeReport(
  variant: string,
  docs: readonly PolicyDoc[],
  grants: readonly string[],
  wildcards: readonly WildcardGrant[],
  delegations: readonly string[],
  passes: readonly PassRole[],
  uses: readonly FunctionUse[],
  buckets: number,
): void {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Security checks: ${variant}`,
    '',
    `Buckets checked: ${buckets}. Functions checked: ${uses.length}. Policy documents: ${docs.length} (` +
      (['identity', 'trust', 'resource'] as const)
        .map((k) => `${docs.filter((d) => d.kind === k).length} ${k}`)
        .join(', ') +
      `), with ${docs.reduce((n, d) => n + d.statements.length, 0)} statements.`,
    '',
    '## `*` resources in identity policies (each acknowledged, AwsSolutions-IAM5)',
    '',
    '| policy | actions | resource | reason |',
    '|---|---|---|---|',
    ...wildcards.map(
      (w) =>
        `| ${cell(w.policy)} | ${cell(w.actions)} | \`${cell(w.resource)}\` | ${cell(w.reason ?? 'NONE')} |`,
    ),
    '',
    '## Resource and trust policies: who is let in',
    '',
    ...grants.map((g) => `- ${g}`),
    '',
    '## Key policies delegating the key to this account (kms:* for the account root)',
    '',
    ...delegations.map((d) => `- ${d}`),
    '',
    '## iam:PassRole',
    '',
    ...passes.map(
      (p) => `- ${p.holder} -> ${p.roles.join(', ')} (iam:PassedToService ${p.passedTo ?? 'any'})`,
    ),
    '',
    '## Lambda functions and how they are invoked',
    '',
    '| function | invoked by | DLQ | notes |',
    '|---|---|---|---|',
    ...uses.map(
      (u) =>
        `| ${u.fn} | ${[...u.invocations].join(', ')} | ${u.dlq ? 'yes' : 'no'} | ${u.notes.join('; ')} |`,
    ),
    '',
  ];
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, `${variant}.md`), lines.join('\n'));
}

// ---- the configurations ----

function withConfig(change: (c: Json) => void): Json {
  const c = defaultConfigInput() as unknown as Json;
  change(c);
  return c;
}

const VARIANTS: [string, () => ReturnType<typeof build>][] = [
  ['default', () => build()],
  [
    'serverless',
    () =>
      build({ config: withConfig((c) => (c.endpoint = { ...(c.endpoint as Json), type: 'serverless' })) }),
  ],
  ['destroy', () => build({ context: { 'devmlops:destroy': 'true' } })],
  [
    'scheduled',
    () =>
      build({
        config: withConfig((c) => {
          c.training = { ...(c.training as Json), schedule: 'rate(7 days)', trainOnNewData: true };
          c.notificationEmail = 'ops@example.com';
        }),
      }),
  ],
];

/** Each configuration is synthesized once (a few seconds each), for its checks and for the negative tests. */
const synthesized = new Map<string, StackInfo[]>();
function stacksFor(variant: string): StackInfo[] {
  if (!synthesized.has(variant))
    synthesized.set(variant, stacksOf(VARIANTS.find(([v]) => v === variant)![1]()));
  return synthesized.get(variant)!;
}

describe.each(VARIANTS.map(([v]) => v))('security of the synthesized app: %s', (variant) => {
  const stacks = stacksFor(variant);
  const docs = policyDocs(stacks);
  const actions = wildcardActions(docs);
  const wildcards = wildcardResources(docs);
  const passes = passRoles(stacks);
  const uses = functionUses(stacks);
  const storage = storageViolations(stacks);
  writeReport(
    variant,
    docs,
    grantsToPrincipals(docs),
    wildcards,
    actions.delegations,
    passes.grants,
    uses,
    storage.buckets,
  );

  it('finds what it checks: stacks, policies, buckets, functions', () => {
    expect(stacks.map((s) => s.name)).toEqual(
      expect.arrayContaining(['devmlops-data-lake', 'devmlops-pipeline']),
    );
    expect(docs.filter((d) => d.kind === 'identity').length).toBeGreaterThan(5);
    expect(docs.filter((d) => d.type === 'AWS::S3::BucketPolicy').length).toBeGreaterThanOrEqual(5);
    expect(storage.buckets).toBeGreaterThanOrEqual(5);
    expect(uses.length).toBeGreaterThan(3);
  });

  it('no Allow statement has a * or service:* action (the KMS key-policy delegation aside)', () => {
    expect(actions.violations).toEqual([]);
    // Only the two data keys (the lake's and the pipeline's) delegate to IAM, as AWS's default key policy does.
    expect(actions.delegations).toEqual(
      stacks.flatMap((s) =>
        Object.entries(s.resources)
          .filter(([, r]) => r.Type === 'AWS::KMS::Key')
          .map(([id]) => `${s.name}/${id}`),
      ),
    );
  });

  it('every * resource of an identity policy is acknowledged (AwsSolutions-IAM5) with a reason', () => {
    expect(wildcards.length).toBeGreaterThan(0);
    expect(
      wildcards.filter((w) => (w.reason ?? '').length < 20).map((w) => `${w.policy}: ${w.resource}`),
    ).toEqual([]);
  });

  it('no bucket, key, topic, queue or trust policy, nor Lambda permission, lets in another account', () => {
    expect(principalViolations(docs, stacks)).toEqual([]);
  });

  it('every bucket is encrypted, blocks public access, has no ACLs and denies non-TLS; queues and topics too', () => {
    expect(storage.violations).toEqual([]);
  });

  it('iam:PassRole names only roles of this app; a state machine passes only the SageMaker role, to SageMaker', () => {
    expect(passes.violations).toEqual([]);
    expect(passes.grants.length).toBeGreaterThan(0);
  });

  it('every Lambda function is synchronous, SQS-driven with a DLQ, or asynchronous with a DLQ', () => {
    expect(invocationViolations(uses)).toEqual([]);
  });

  it('cdk-nag AwsSolutions finds nothing unacknowledged in any stack', () => {
    expect(nagViolations(stacks)).toEqual([]);
  });
});

describe('the security checks catch what they look for', () => {
  const stacks = stacksFor('default');

  const pipeline = stacks.find((s) => s.name === 'devmlops-pipeline')!;
  const roleOf = (prefix: string) =>
    Object.keys(pipeline.resources).find(
      (k) => k.startsWith(prefix) && pipeline.resources[k].Type === 'AWS::IAM::Role',
    );

  /** A copy of the app's stacks with one resource added to the pipeline stack's template. */
  function withResource(id: string, resource: { Type: string; Properties: Json }): StackInfo[] {
    return stacks.map((s) =>
      s.name === 'devmlops-pipeline' ? { ...s, resources: { ...s.resources, [id]: resource } } : s,
    );
  }

  it('flags a * action, an unacknowledged * resource, another account, a bucket without TLS, a loose PassRole', () => {
    const bad = withResource('BadPolicy', {
      Type: 'AWS::IAM::Policy',
      Properties: {
        // A Lambda function's role, not the state machine's: only the PassRole target is wrong here.
        Roles: [{ Ref: roleOf('ValidationHandler') }],
        PolicyDocument: {
          Statement: [
            { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::x' },
            { Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' },
          ],
        },
      },
    });
    const badDocs = policyDocs(bad);
    expect(wildcardActions(badDocs).violations).toEqual([expect.stringContaining('BadPolicy')]);
    expect(wildcardResources(badDocs).filter((w) => w.reason === undefined)).toEqual([
      expect.objectContaining({ policy: expect.stringContaining('BadPolicy'), resource: '*' }),
    ]);
    expect(passRoles(bad).violations).toEqual([expect.stringContaining('iam:PassRole on *')]);

    const open = withResource('OpenBucket', { Type: 'AWS::S3::Bucket', Properties: {} });
    const openPolicy = withResource('OpenPolicy', {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: { Ref: 'OpenBucket' },
        PolicyDocument: {
          Statement: [
            { Effect: 'Allow', Action: 's3:GetObject', Principal: { AWS: 'arn:aws:iam::111122223333:root' } },
          ],
        },
      },
    });
    expect(storageViolations(open).violations).toEqual([
      expect.stringContaining('no default encryption'),
      ...['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'].map((k) =>
        expect.stringContaining(k),
      ),
      expect.stringContaining('ACLs'),
      expect.stringContaining('SecureTransport'),
    ]);
    expect(principalViolations(policyDocs(openPolicy), openPolicy)).toEqual([
      expect.stringContaining('arn:aws:iam::111122223333:root'),
    ]);
    const anyone = withResource('AnyonePolicy', {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Principal: '*' }] },
      },
    });
    expect(principalViolations(policyDocs(anyone), anyone)).toEqual([
      expect.stringContaining('without a source condition'),
    ]);
  });

  it('flags an asynchronously invoked function without a DLQ, and a function nobody invokes', () => {
    const fn = { Type: 'AWS::Lambda::Function', Properties: { Handler: 'x' } };
    const lonely = withResource('LonelyFunction', fn);
    expect(invocationViolations(functionUses(lonely))).toEqual([
      expect.stringContaining('LonelyFunction: no known invoker'),
    ]);
    const scheduled = withResource('Rule', {
      Type: 'AWS::Events::Rule',
      Properties: { Targets: [{ Arn: { 'Fn::GetAtt': ['LonelyFunction', 'Arn'] }, Id: 't' }] },
    }).map((s) =>
      s.name === 'devmlops-pipeline' ? { ...s, resources: { ...s.resources, LonelyFunction: fn } } : s,
    );
    expect(invocationViolations(functionUses(scheduled))).toEqual([
      expect.stringContaining('LonelyFunction: invoked asynchronously (async:events) without a DLQ'),
    ]);
  });
});
