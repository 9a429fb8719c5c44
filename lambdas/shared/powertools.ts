import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The one Logger and one Metrics instance of a Lambda process (created once, at cold start).
 * Namespace `DevMLOps` and the single dimension `Project` are what the alarms and the dashboard
 * query (DESIGN.md section 8), so they must not drift between handlers.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'devmlops';

export const logger = new Logger({ serviceName });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'DevMLOps',
  serviceName,
});
// Powertools adds a `service` dimension by default; CloudWatch matches the full dimension set, so an
// alarm on {Project} would never see {Project, service}. Keep exactly the dimensions the design names.
metrics.clearDefaultDimensions();
metrics.setDefaultDimensions({ Project: process.env.PROJECT ?? 'devmlops' });

export { MetricUnit };
