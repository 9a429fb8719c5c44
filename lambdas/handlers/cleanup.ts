import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { logger } from '../shared/powertools';

/**
 * The pipeline cleanup custom resource (CDK Provider framework `onEvent`). On stack delete it removes what
 * the state machine created outside CloudFormation and that keeps billing or blocks a redeploy: the
 * endpoint first (it uses the configs), then endpoint configs, then models. Only resources tagged
 * devmlops:project=<project> and devmlops:managed-by=pipeline are touched: the name filter narrows the
 * listing, the tags decide. Create and Update do nothing.
 */

export const TAG_PROJECT = 'devmlops:project';
export const TAG_MANAGED_BY = 'devmlops:managed-by';
export const MANAGED_BY_PIPELINE = 'pipeline';

export interface CleanupResult {
  endpoints: string[];
  endpointConfigs: string[];
  models: string[];
}

interface Listed {
  name: string;
  arn: string;
}

/** SageMaker says "not found" as ValidationException "Could not find ..." for these APIs. */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'ResourceNotFound' || e?.name === 'ResourceNotFoundException') return true;
  return (
    e?.name === 'ValidationException' && /could not find|does not exist|not found/i.test(e.message ?? '')
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
        if (e.EndpointName && e.EndpointArn) out.push({ name: e.EndpointName, arn: e.EndpointArn });
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

/** Finds and deletes this project's pipeline-made endpoints, endpoint configs and models, in that order. */
export async function cleanupPipelineResources(sm: SageMakerClient, project: string): Promise<CleanupResult> {
  const result: CleanupResult = { endpoints: [], endpointConfigs: [], models: [] };
  const endpoints = await owned(sm, await listAll(sm, 'endpoints', project), project);
  for (const e of endpoints)
    if (await remove(() => sm.send(new DeleteEndpointCommand({ EndpointName: e.name }))))
      result.endpoints.push(e.name);
  const configs = await owned(sm, await listAll(sm, 'configs', project), project);
  for (const c of configs)
    if (await remove(() => sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: c.name }))))
      result.endpointConfigs.push(c.name);
  const models = await owned(sm, await listAll(sm, 'models', project), project);
  for (const m of models)
    if (await remove(() => sm.send(new DeleteModelCommand({ ModelName: m.name }))))
      result.models.push(m.name);
  return result;
}

export interface OnEventResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

let client: SageMakerClient | undefined;

/** The Provider framework's onEvent handler. The project comes from the resource's `Project` property, else PROJECT. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<OnEventResponse> {
  const props = (event.ResourceProperties ?? {}) as Record<string, unknown>;
  const project =
    typeof props.Project === 'string' && props.Project !== '' ? props.Project : process.env.PROJECT;
  if (!project)
    throw new Error('No project: set the resource property Project or the PROJECT environment variable');
  const physicalId =
    event.RequestType === 'Create' ? `${project}-pipeline-cleanup` : event.PhysicalResourceId;
  if (event.RequestType !== 'Delete') return { PhysicalResourceId: physicalId };
  client ??= new SageMakerClient({});
  const result = await cleanupPipelineResources(client, project);
  logger.info('Deleted the pipeline-made SageMaker resources', { project, ...result });
  return {
    PhysicalResourceId: physicalId,
    Data: {
      Endpoints: result.endpoints.join(','),
      EndpointConfigs: result.endpointConfigs.join(','),
      Models: result.models.join(','),
    },
  };
}

export const onEvent = handler;
