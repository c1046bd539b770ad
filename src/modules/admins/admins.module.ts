import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { AdminController, SettingsController } from 'src/modules/admins/admin.controller';
import {
  AdminEntity,
  AdminSessionEntity,
  RecoveryCodeEntity,
  RefreshTokenEntity,
  SettingEntity,
} from 'src/modules/admins/admin.entity';
import { AdminRepository } from 'src/modules/admins/admin.repository';
import { AdminService } from 'src/modules/admins/admin.service';
import { AuthController } from 'src/modules/admins/auth.controller';
import { AuthMetrics } from 'src/modules/admins/auth.metrics';
import { AuthService } from 'src/modules/admins/auth.service';
import {
  AuditedSecurityEvents,
  BearerCredentialsResolver,
} from 'src/modules/admins/credentials.resolver';
import { JwtAuthGuard, JwtStrategy } from 'src/modules/admins/jwt.strategy';
import { MfaController } from 'src/modules/admins/mfa.controller';
import { MfaService } from 'src/modules/admins/mfa.service';
import { TokenService } from 'src/modules/admins/token.service';
import { ApiKeyModule } from 'src/modules/api-keys/api-key.module';
import { CredentialsResolver, SecurityEvents } from 'src/platform/auth/credentials.port';

@Module({
  imports: [
    TypeOrmModule.forFeature([
      AdminEntity,
      AdminSessionEntity,
      RefreshTokenEntity,
      RecoveryCodeEntity,
      SettingEntity,
    ]),
    PassportModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ secret: config.secrets.jwt }),
    }),
    ApiKeyModule,
  ],
  controllers: [AuthController, MfaController, AdminController, SettingsController],
  providers: [
    AdminRepository,
    AdminService,
    AuthService,
    AuthMetrics,
    MfaService,
    TokenService,
    JwtStrategy,
    JwtAuthGuard,
    { provide: CredentialsResolver, useClass: BearerCredentialsResolver },
    { provide: SecurityEvents, useClass: AuditedSecurityEvents },
  ],
  exports: [AdminService, CredentialsResolver, SecurityEvents],
})
export class AdminsModule {}
