/**
 * An OpenTelemetry metric reader that collects only when asked (`reader.collect()`), for
 * the tests and the metrics benchmark: what a scrape does, at the moment the caller
 * chooses.
 */
import { AggregationTemporality, MetricReader } from '@opentelemetry/sdk-metrics';

export class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
