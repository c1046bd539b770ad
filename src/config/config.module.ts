import { Global, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';

/** Provides the validated, frozen `AppConfig` loaded once at boot to every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
