import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';

describe('loadConfig', () => {
  it('applies the defaults with only CLUSTER_NAME set, and freezes the result', () => {
    const config = loadConfig({ CLUSTER_NAME: 'prod' });
    expect(config).toEqual({ clusterName: 'prod', ...DEFAULTS });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        CLUSTER_NAME: 'prod',
        DRAIN_TIMEOUT_SECONDS: '3600',
        ON_DRAIN_TIMEOUT: 'ABANDON',
        DRY_RUN: 'true',
        HEARTBEAT_INTERVAL_SECONDS: '30',
        LOG_LEVEL: 'debug',
        MAX_CONCURRENT_EVICTIONS: '8',
        METRICS_NAMESPACE: 'Platform/Drainer',
      }),
    ).toEqual({
      clusterName: 'prod',
      drainTimeoutSeconds: 3600,
      onDrainTimeout: 'abandon',
      dryRun: true,
      heartbeatIntervalSeconds: 30,
      logLevel: 'debug',
      maxConcurrentEvictions: 8,
      metricsNamespace: 'Platform/Drainer',
    });
  });

  it.each([
    [{ CLUSTER_NAME: '  ' }, /CLUSTER_NAME is required/],
    [{ CLUSTER_NAME: 'bad name!' }, /CLUSTER_NAME must be an EKS cluster name, got "bad name!"/],
    [
      { DRAIN_TIMEOUT_SECONDS: '5' },
      /DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "5"/,
    ],
    [{ DRAIN_TIMEOUT_SECONDS: '1.5e3x' }, /DRAIN_TIMEOUT_SECONDS .* got "1.5e3x"/],
    [
      { HEARTBEAT_INTERVAL_SECONDS: '5' },
      /HEARTBEAT_INTERVAL_SECONDS must be a whole number between 10 and 3600, got "5"/,
    ],
    [{ ON_DRAIN_TIMEOUT: 'evict' }, /ON_DRAIN_TIMEOUT must be one of delete, continue, abandon, got "evict"/],
    [{ DRY_RUN: 'yes' }, /DRY_RUN must be one of true, false, got "yes"/],
    [{ LOG_LEVEL: 'verbose' }, /LOG_LEVEL must be one of debug, info, warn, error, got "verbose"/],
    [
      { MAX_CONCURRENT_EVICTIONS: '0' },
      /MAX_CONCURRENT_EVICTIONS must be a whole number between 1 and 500, got "0"/,
    ],
    [
      { METRICS_NAMESPACE: 'AWS/Lambda' },
      /METRICS_NAMESPACE must be a CloudWatch namespace \(not AWS\/…\), got "AWS\/Lambda"/,
    ],
  ])('fails for %j naming the variable and the value', (env, message) => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', ...env })).toThrow(message);
  });

  it('fails with a ConfigError', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
  });
});
