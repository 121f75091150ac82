import FedgateCore
import Foundation
import Storage

extension SigningKey {
    /// Generates a fresh key pair in the stored form: PKCS#8 PEM private key plus its public JWK JSON.
    ///
    /// The `kid` is 20 random bytes in lowercase hex, as Dex's `newRSAKey`/`newECKey`, so key IDs look
    /// the same to relying parties migrating from Dex. RSA keys are 2048 bits (Dex's size). RSA keygen
    /// takes tens to hundreds of milliseconds of CPU; `KeyManager` runs it on its own thread.
    public static func generate(algorithm: SigningAlgorithm) throws -> SigningKey {
        let kid = IDs.randomBytes(20).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        let pem: String
        let jwk: PublicJWK
        switch algorithm {
        case .rs256:
            let key = try RSAKey.generate(bits: 2048)
            pem = try key.pkcs8PEM()
            jwk = try key.publicJWK(kid: kid)
        case .es256:
            let key = ES256Key.generate()
            pem = try key.pkcs8PEM()
            jwk = key.publicJWK(kid: kid)
        }
        return SigningKey(kid: kid, algorithm: algorithm.name, privateKeyPEM: pem, publicJWK: try jwk.jsonString())
    }
}
