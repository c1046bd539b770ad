import { Inject, Injectable } from '@nestjs/common';

import { APP_CONFIG } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';
import { SigningService } from 'src/modules/signing/signing.service';
import {
  ed25519Signature,
  hmacSignature,
  secretKey,
  signatureHeader,
  signedContent,
  webhookId,
} from 'src/modules/webhooks/webhook-signature';
import { SecretBox } from 'src/platform/crypto/secret-box';

export const WEBHOOK_SECRET_PURPOSE = 'webhook-secret';
/** Names the JWKS key (GET /v1/keys) whose Ed25519 signature is the `v1a` entry. */
export const KEY_ID_HEADER = 'webhook-signature-kid';

/** What a message is made of: the event, and the endpoint's secrets and options. */
export interface MessageSource {
  readonly eventId: string;
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly sequence: string;
  readonly data: Record<string, unknown>;
  readonly eventCreatedAt: Date;
  readonly payloadVersion: string;
  readonly secretSealed: string;
  readonly previousSecretSealed: string | null;
  readonly previousSecretExpiresAt: Date | null;
  readonly signEd25519: boolean;
}

export interface WebhookMessage {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Payload version 1. `sequence` increases by one per aggregate, in commit order. */
export interface WebhookPayloadV1 {
  readonly id: string;
  readonly type: string;
  readonly timestamp: string;
  readonly sequence: number;
  readonly aggregate: { readonly type: string; readonly id: string };
  readonly data: Record<string, unknown>;
}

export function renderPayload(source: MessageSource): WebhookPayloadV1 {
  return {
    id: source.eventId,
    type: source.eventType,
    timestamp: source.eventCreatedAt.toISOString(),
    sequence: Number(source.sequence),
    aggregate: { type: source.aggregateType, id: source.aggregateId },
    data: source.data,
  };
}

/**
 * Builds the body and the Standard Webhooks headers of an attempt: `v1` HMACs with the endpoint's secrets,
 * and, when the endpoint asks for it, a `v1a` Ed25519 signature with the key ring's webhook key.
 */
@Injectable()
export class WebhookSigner {
  private readonly box: SecretBox;

  constructor(
    private readonly signing: SigningService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.box = new SecretBox(config.secrets.encryption, WEBHOOK_SECRET_PURPOSE);
  }

  /** `now` is the attempt's time: `webhook-timestamp` changes per attempt, `webhook-id` never does. */
  async message(source: MessageSource, now: Date): Promise<WebhookMessage> {
    const body = JSON.stringify(renderPayload(source));
    const id = webhookId(source.eventId);
    const timestamp = Math.floor(now.getTime() / 1000);
    const content = signedContent(id, timestamp, body);
    const signatures = this.keys(source, now).map((key) => hmacSignature(key, content));
    const headers: Record<string, string> = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
    };
    if (source.signEd25519) {
      const signed = await this.signing.sign('webhook', content);
      if (signed.alg !== 'EdDSA') {
        throw new Error(`The webhook key ${signed.kid} is not an Ed25519 key`);
      }
      signatures.push(ed25519Signature(signed.signature));
      headers[KEY_ID_HEADER] = signed.kid;
    }
    headers['webhook-signature'] = signatureHeader(signatures);
    return { body, headers };
  }

  /** The current secret, and the previous one while its overlap lasts (receivers may hold either). */
  private keys(source: MessageSource, now: Date): Buffer[] {
    const keys = [this.open(source.secretSealed)];
    if (
      source.previousSecretSealed !== null &&
      source.previousSecretExpiresAt !== null &&
      source.previousSecretExpiresAt.getTime() > now.getTime()
    ) {
      keys.push(this.open(source.previousSecretSealed));
    }
    return keys;
  }

  private open(sealed: string): Buffer {
    const key = secretKey(this.box.open(sealed).toString('utf8'));
    if (key === null) {
      throw new Error('A stored webhook secret is not a whsec_ secret');
    }
    return key;
  }
}
