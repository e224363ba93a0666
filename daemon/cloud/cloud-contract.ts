import * as z from "zod";

/**
 * The DeployStack cloud API as the gateway uses it (docs/control-plane.md), in one place:
 * the OAuth client, scopes and callback defaults, and the zod schemas every response is
 * validated against before anything is derived from it. Schemas are lenient about extra
 * fields (the backend adds fields over time) and strict about the ones the gateway reads.
 * Validation messages name fields only, never values: responses carry tokens and env values.
 */

/** Default API base URL. */
export const DEFAULT_CLOUD_URL = "https://cloud-api.deploystack.io";
/** The gateway's public OAuth client (no secret; PKCE protects the code). */
export const OAUTH_CLIENT_ID = "deploystack-gateway-cli";
/** Scopes requested at login; `offline_access` is what yields a refresh token. */
export const OAUTH_SCOPES = [
  "mcp:read",
  "mcp:categories:read",
  "account:read",
  "user:read",
  "teams:read",
  "gateway:config:read",
  "offline_access",
] as const;
/** The loopback port the DeployStack backend accepts in redirect URIs. */
export const DEFAULT_CALLBACK_PORT = 8976;
/** Path of the loopback redirect URI. */
export const CALLBACK_PATH = "/oauth/callback";

/** API paths, relative to the base URL. */
export const CLOUD_PATHS = {
  authorize: "/api/oauth2/auth",
  token: "/api/oauth2/token",
  userinfo: "/api/oauth2/userinfo",
  teams: "/api/teams/me",
  configurations: "/api/gateway/me/mcp-configurations",
} as const;

/** `POST /api/oauth2/token` success body (RFC 6749 §5.1). */
export const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i),
  expires_in: z.number().positive(),
  /** Always sent by DeployStack; optional in RFC 6749 §6, where the old one stays valid. */
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
});

/** OAuth error body (RFC 6749 §5.2). */
export const oauthErrorSchema = z.looseObject({
  error: z.string(),
  error_description: z.string().optional(),
});

/** `GET /api/oauth2/userinfo`. */
export const userInfoSchema = z.looseObject({
  sub: z.string().min(1),
  email: z.string(),
  preferred_username: z.string().optional(),
  name: z.string().optional(),
  email_verified: z.boolean().optional(),
});

/** One entry of `GET /api/teams/me`. */
export const cloudTeamSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  slug: z.string(),
  role: z.string(),
  is_default: z.boolean(),
  description: z.string().nullish(),
  member_count: z.number().optional(),
});

/** `GET /api/teams/me`. */
export const teamsResponseSchema = z.looseObject({
  success: z.literal(true),
  data: z.array(z.unknown()),
});

/** One server of `GET /api/gateway/me/mcp-configurations`. */
export const cloudServerSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().min(1),
  command: z.string(),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  status: z.enum(["ready", "invalid"]),
});

/** `GET /api/gateway/me/mcp-configurations`. */
export const configurationsResponseSchema = z.looseObject({
  success: z.literal(true),
  data: z.looseObject({ servers: z.array(z.unknown()) }),
});

/** The signed-in user. */
export interface CloudUser {
  readonly sub: string;
  readonly email: string;
  readonly preferredUsername?: string;
  readonly name?: string;
}

/** A team the user belongs to, with the user's role in it. */
export interface CloudTeam {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  /** `team_admin` or `team_user`. */
  readonly role: string;
  readonly isDefault: boolean;
  readonly description?: string;
  readonly memberCount?: number;
}

/** A server configuration as the cloud sends it. `env` values are secrets. */
export interface CloudServer {
  readonly id: string;
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly status: "ready" | "invalid";
}

/** An entry of the configurations list that could not be read at all. */
export interface MalformedCloudServer {
  readonly id?: string;
  readonly name?: string;
  /** Field names that failed validation (never values). */
  readonly fields: readonly string[];
}

/** Converts a validated userinfo body. */
export function userFromWire(body: z.output<typeof userInfoSchema>): CloudUser {
  return {
    sub: body.sub,
    email: body.email,
    ...(body.preferred_username === undefined ? {} : { preferredUsername: body.preferred_username }),
    ...(body.name === undefined ? {} : { name: body.name }),
  };
}

/** Converts a validated team entry. */
export function teamFromWire(body: z.output<typeof cloudTeamSchema>): CloudTeam {
  return {
    id: body.id,
    name: body.name,
    slug: body.slug,
    role: body.role,
    isDefault: body.is_default,
    ...(body.description ? { description: body.description } : {}),
    ...(body.member_count === undefined ? {} : { memberCount: body.member_count }),
  };
}

/** Splits a configurations list into readable servers and malformed entries. */
export function serversFromWire(entries: readonly unknown[]): { servers: CloudServer[]; malformed: MalformedCloudServer[] } {
  const servers: CloudServer[] = [];
  const malformed: MalformedCloudServer[] = [];
  for (const entry of entries) {
    const parsed = cloudServerSchema.safeParse(entry);
    if (parsed.success) {
      const { id, name, command, args, env, status } = parsed.data;
      servers.push({ id, name, command, args, env, status });
      continue;
    }
    const raw = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>) : {};
    malformed.push({
      ...(typeof raw.id === "string" ? { id: raw.id } : {}),
      ...(typeof raw.name === "string" ? { name: raw.name } : {}),
      fields: [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? "(entry)")))],
    });
  }
  return { servers, malformed };
}
