// Hetzner Cloud server types for the preset tiers, with list prices as dated data (not live).
import type { PresetTierName } from './settings';

export interface ServerType {
  readonly name: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly diskGB: number;
  /** Monthly list price in EUR, excluding VAT, EU locations (fsn1, nbg1, hel1), with IPv4. */
  readonly eurPerMonth: number;
}

/**
 * Date the prices below were last checked. Hetzner adjusted cloud prices on 2026-04-01; these are the
 * earlier list prices and may be lower than today's: check hetzner.com/cloud before you budget.
 */
export const HETZNER_PRICES_AS_OF = '2025-06-01';

/** Dedicated-vCPU (CCX) types: shared vCPUs are a poor fit for sustained COPY load. */
export const HETZNER_SERVER_TYPES: Readonly<Record<PresetTierName, ServerType>> = {
  minimum: { name: 'ccx23', cores: 4, ramGiB: 16, diskGB: 160, eurPerMonth: 24.49 },
  recommended: { name: 'ccx33', cores: 8, ramGiB: 32, diskGB: 240, eurPerMonth: 48.49 },
  powerhouse: { name: 'ccx43', cores: 16, ramGiB: 64, diskGB: 360, eurPerMonth: 96.49 },
};

/** Volume price per GB-month (EUR, excl. VAT), same date as above. */
export const HETZNER_VOLUME_EUR_PER_GB_MONTH = 0.044;
