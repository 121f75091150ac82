import Foundation

/// The OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), as Dex publishes it.
enum Discovery {
    struct Document: Encodable {
        var issuer: String
        var authorization_endpoint: String
        var token_endpoint: String
        var jwks_uri: String
        var userinfo_endpoint: String
        var revocation_endpoint: String
        var introspection_endpoint: String
        var revocation_endpoint_auth_methods_supported: [String]
        var introspection_endpoint_auth_methods_supported: [String]
        var grant_types_supported: [String]
        var response_types_supported: [String]
        var subject_types_supported: [String]
        var id_token_signing_alg_values_supported: [String]
        var code_challenge_methods_supported: [String]
        var scopes_supported: [String]
        var token_endpoint_auth_methods_supported: [String]
        var claims_supported: [String]
        var request_parameter_supported: Bool
        var request_uri_parameter_supported: Bool
    }

    static func document(settings: Settings) throws -> [UInt8] {
        let doc = Document(
            issuer: settings.issuer,
            authorization_endpoint: settings.url("/auth"),
            token_endpoint: settings.url("/token"),
            jwks_uri: settings.url("/keys"),
            userinfo_endpoint: settings.url("/userinfo"),
            revocation_endpoint: settings.url("/token/revoke"),
            introspection_endpoint: settings.url("/token/introspect"),
            revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            grant_types_supported: settings.grantTypes.sorted(),
            response_types_supported: settings.responseTypes.sorted(),
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: [settings.signingAlgorithm],
            code_challenge_methods_supported: settings.pkceMethods,
            scopes_supported: ["openid", "email", "groups", "profile", "offline_access"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            claims_supported: ["iss", "sub", "aud", "iat", "exp", "email", "email_verified", "locale", "name",
                               "preferred_username", "at_hash", "groups", "federated_claims", "auth_time", "azp", "nonce"],
            request_parameter_supported: false,
            request_uri_parameter_supported: false
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(doc))
    }
}
