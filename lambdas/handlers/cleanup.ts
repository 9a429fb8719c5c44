import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DeleteModelPackageCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelPackagesCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { logger } from '../shared/powertools';

/**
 * The pipeline cleanup custom resource (CDK Provider framework, onEvent + isComplete). On stack delete it removes
 * what the state machine created outside CloudFormation and that keeps billing or blocks a redeploy: the endpoint
 * first (it uses the configs), and only once it is gone the endpoint configs, the models and every model package
 * of the project's group (SageMaker refuses to delete a group that holds packages). An endpoint that is Creating
 * or Updating cannot be deleted yet: onEvent deletes what it can, and isComplete, called again every query
 * interval, retries until nothing remains. Endpoints, configs and models are touched only when tagged
 * devmlops:project=<project> and devmlops:managed-by=pipeline: the name filter narrows the listing, the tags
 * decide. Create and Update do nothing.
 */

export const TAG_PROJECT = 'devmlops:project';
export const TAG_MANAGED_BY = 'devmlops:managed-by';
export const MANAGED_BY_PIPELINE = 'pipeline';
/** Endpoint statuses in which DeleteEndpoint is refused: wait for them to settle. */
export const ENDPOINT_BUSY = [
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'UpdateRollbackFailed',
];

/** What one round of the cleanup did and saw. */
export interface CleanupRound {
  /** Deletes issued this round. */
  deleted: { endpoints: string[]; endpointConfigs: string[]; models: string[]; modelPackages: string[] };
  /** Endpoints still there (busy, deleting, or deleted this round): configs, models and packages wait for them. */
  waitingFor: string[];
  /** Nothing of the pipeline was found: the cleanup is complete. */
  complete: boolean;
}

interface Listed {
  name: string;
  arn: string;
  status?: string;
}

/** SageMaker says "not found" as ValidationException "Could not find ..." for these APIs. */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'ResourceNotFound' || e?.name === 'ResourceNotFoundException') return true;
  return (
    e?.name === 'ValidationException' && /could not find|does not exist|not found/i.test(e.message ?? '')
  );
}

/** DeleteEndpoint refused because the endpoint is in a transition (it changed since it was listed). */
export function isBusy(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return (
    e?.name === 'ValidationException' &&
    /in-?progress|in progress|status|cannot (delete|update)/i.test(e.message ?? '')
  );
}

async function listAll(
  sm: SageMakerClient,
  kind: 'endpoints' | 'configs' | 'models',
  nameContains: string,
): Promise<Listed[]> {
  const out: Listed[] = [];
  let token: string | undefined;
  do {
    if (kind === 'endpoints') {
      const r = await sm.send(
        new ListEndpointsCommand({ NameContains: nameContains, MaxResults: 100, NextToken: token }),
      );
      for (const e of r.Endpoints ?? [])
        if (e.EndpointName && e.EndpointArn)
          out.push({ name: e.EndpointName, arn: e.EndpointArn, status: e.EndpointStatus });
      token = r.NextToken;
    } else if (kind === 'configs') {
      const r = await sm.send(
        new ListEndpointConfigsCommand({ NameContains: nameContains, MaxResults: 100, NextToken: token }),
      );
      for (const c of r.EndpointConfigs ?? [])
        if (c.EndpointConfigName && c.EndpointConfigArn)
          out.push({ name: c.EndpointConfigName, arn: c.EndpointConfigArn });
      token = r.NextToken;
    } else {
      const r = await sm.send(
        new ListModelsCommand({ NameContains: nameContains, MaxResults: 100, NextToken: token }),
      );
      for (const m of r.Models ?? [])
        if (m.ModelName && m.ModelArn) out.push({ name: m.ModelName, arn: m.ModelArn });
      token = r.NextToken;
    }
  } while (token);
  return out;
}

/** Every package version of the group (none if the group does not exist). */
async function listPackages(sm: SageMakerClient, group: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  try {
    do {
      const r = await sm.send(
        new ListModelPackagesCommand({ ModelPackageGroupName: group, MaxResults: 100, NextToken: token }),
      );
      for (const p of r.ModelPackageSummaryList ?? []) if (p.ModelPackageArn) out.push(p.ModelPackageArn);
      token = r.NextToken;
    } while (token);
  } catch (err) {
    if (isNotFound(err)) return out;
    throw err;
  }
  return out;
}

async function tagsOf(sm: SageMakerClient, arn: string): Promise<Tag[] | undefined> {
  const tags: Tag[] = [];
  let token: string | undefined;
  try {
    do {
      const r = await sm.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 100, NextToken: token }));
      tags.push(...(r.Tags ?? []));
      token = r.NextToken;
    } while (token);
  } catch (err) {
    // Deleted between the listing and now: nothing left to clean.
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return tags;
}

function ours(tags: readonly Tag[], project: string): boolean {
  const has = (key: string, value: string): boolean => tags.some((t) => t.Key === key && t.Value === value);
  return has(TAG_PROJECT, project) && has(TAG_MANAGED_BY, MANAGED_BY_PIPELINE);
}

async function owned(sm: SageMakerClient, listed: Listed[], project: string): Promise<Listed[]> {
  const keep: Listed[] = [];
  for (const r of listed) {
    const tags = await tagsOf(sm, r.arn);
    if (tags && ours(tags, project)) keep.push(r);
  }
  return keep;
}

/** Deletes, tolerating "already gone"; returns whether it was there. */
async function remove(del: () => Promise<unknown>): Promise<boolean> {
  try {
    await del();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * One round of the cleanup, safe to repeat: deletes the endpoints that can be deleted; once no endpoint is left,
 * deletes the endpoint configs, models and model packages. Complete only when a round finds nothing at all, so a
 * delete issued in one round is confirmed by the next.
 */
export async function cleanupRound(
  sm: SageMakerClient,
  project: string,
  modelPackageGroup: string = `${project}-models`,
): Promise<CleanupRound> {
  const deleted: CleanupRound['deleted'] = {
    endpoints: [],
    endpointConfigs: [],
    models: [],
    modelPackages: [],
  };
  const endpoints = await owned(sm, await listAll(sm, 'endpoints', project), project);
  for (const e of endpoints) {
    if (e.status === 'Deleting' || ENDPOINT_BUSY.includes(e.status ?? '')) continue;
    try {
      if (await remove(() => sm.send(new DeleteEndpointCommand({ EndpointName: e.name }))))
        deleted.endpoints.push(e.name);
    } catch (err) {
      if (!isBusy(err)) throw err;
    }
  }
  const waitingFor = endpoints.map((e) => e.name);
  if (waitingFor.length > 0) return { deleted, waitingFor, complete: false };

  const configs = await owned(sm, await listAll(sm, 'configs', project), project);
  for (const c of configs)
    if (await remove(() => sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: c.name }))))
      deleted.endpointConfigs.push(c.name);
  const models = await owned(sm, await listAll(sm, 'models', project), project);
  for (const m of models)
    if (await remove(() => sm.send(new DeleteModelCommand({ ModelName: m.name }))))
      deleted.models.push(m.name);
  // Every package of the group goes: the group is deleted with the stack and must be empty by then.
  const packages = await listPackages(sm, modelPackageGroup);
  for (const arn of packages)
    if (await remove(() => sm.send(new DeleteModelPackageCommand({ ModelPackageName: arn }))))
      deleted.modelPackages.push(arn);
  const complete = configs.length === 0 && models.length === 0 && packages.length === 0;
  return { deleted, waitingFor, complete };
}

export interface OnEventResponse {
  PhysicalResourceId: string;
}

export interface IsCompleteResponse {
  IsComplete: boolean;
}

let client: SageMakerClient | undefined;

function projectOf(event: CloudFormationCustomResourceEvent): { project: string; group: string } {
  const props = (event.ResourceProperties ?? {}) as Record<string, unknown>;
  const project =
    typeof props.Project === 'string' && props.Project !== '' ? props.Project : process.env.PROJECT;
  if (!project)
    throw new Error('No project: set the resource property Project or the PROJECT environment variable');
  const group =
    typeof props.ModelPackageGroup === 'string' && props.ModelPackageGroup !== ''
      ? props.ModelPackageGroup
      : `${project}-models`;
  return { project, group };
}

async function round(event: CloudFormationCustomResourceEvent, phase: string): Promise<CleanupRound> {
  const { project, group } = projectOf(event);
  client ??= new SageMakerClient({});
  const result = await cleanupRound(client, project, group);
  logger.info('Pipeline cleanup round', { phase, project, modelPackageGroup: group, ...result });
  return result;
}

/** onEvent: the project comes from the resource's `Project` property, else PROJECT. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<OnEventResponse> {
  const { project } = projectOf(event);
  const physicalId =
    event.RequestType === 'Create' ? `${project}-pipeline-cleanup` : event.PhysicalResourceId;
  if (event.RequestType === 'Delete') await round(event, 'onEvent');
  return { PhysicalResourceId: physicalId };
}

export const onEvent = handler;

/** isComplete: Create and Update are done at once; a Delete is done when a round finds nothing left. */
export async function isComplete(event: CloudFormationCustomResourceEvent): Promise<IsCompleteResponse> {
  if (event.RequestType !== 'Delete') return { IsComplete: true };
  return { IsComplete: (await round(event, 'isComplete')).complete };
}
