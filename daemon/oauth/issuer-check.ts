/**
 * RFC 9207 §2.4 as the MCP authorization spec (2026-07-28, "Authorization Response
 * Validation") tabulates it: an `iss` in the authorization response is compared with the
 * issuer recorded before the redirect by simple string comparison (no case folding, no
 * trailing-slash or default-port normalisation); when the server advertises
 * `authorization_response_iss_parameter_supported`, a missing `iss` is refused too. This
 * defends against mix-up attacks, where a response from one authorization server is
 * replayed into a login with another.
 *
 * Returns the reason to refuse, or undefined to proceed.
 */
export function checkAuthorizationResponseIssuer(
  recordedIssuer: string,
  issParameterSupported: boolean,
  iss: string | null,
): string | undefined {
  if (iss === null) {
    return issParameterSupported
      ? `the authorization response carried no "iss" although the authorization server "${recordedIssuer}" promises one (RFC 9207); refused`
      : undefined;
  }
  if (iss !== recordedIssuer) {
    return `the authorization response names issuer "${iss.slice(0, 120)}" but the login was started with "${recordedIssuer}" (RFC 9207 mix-up defence); refused`;
  }
  return undefined;
}
