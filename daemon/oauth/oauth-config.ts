/**
 * The `oauth:` block of a remote server in the team file, as the OAuth module needs it. The
 * config loader owns parsing and validation; this is the shape it hands over (every field
 * optional: `oauth: {}` means "discover everything, register the gateway on the fly").
 */
export interface ServerOAuthConfig {
  /** A client pre-registered with the authorization server; used instead of any registration. */
  readonly clientId?: string;
  /** That client's secret (a confidential client); a secret: masked, never shown. */
  readonly clientSecret?: string;
  /** Scopes to ask for when neither the 401 challenge nor the resource metadata names any. */
  readonly scopes?: readonly string[];
  /**
   * An https URL where a Client ID Metadata Document describing the gateway is hosted; used
   * as the `client_id` with authorization servers that advertise
   * `client_id_metadata_document_supported`.
   */
  readonly clientMetadataUrl?: string;
}

/** The command a user runs to sign a server in; every NEEDS_AUTH message quotes it. */
export function loginCommand(serverName: string): string {
  return `dsctl servers login ${/^[A-Za-z0-9_.-]+$/.test(serverName) ? serverName : JSON.stringify(serverName)}`;
}
