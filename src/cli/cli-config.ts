import type { AppConfig } from 'src/config/app-config';

/**
 * The configuration a command-line task runs the application context with: no background work (webhook
 * deliveries, scheduled checkpoints), which belongs to the server processes.
 */
export function cliConfig(config: AppConfig): AppConfig {
  return {
    ...config,
    webhooks: { ...config.webhooks, dispatcherEnabled: false },
    signing: { ...config.signing, auditCheckpointMinutes: 0 },
  };
}
