import Foundation
import Storage

/// What one rotation step must do to the stored `Keys`, decided from a value read from storage.
///
/// Kept pure so the same decision runs twice: once on the value read before generating keys (RSA
/// keygen is slow and must stay outside the storage transaction), and again inside the CAS updater
/// on the value actually being replaced. If the second decision differs, another replica got there
/// first and this one backs off — that is what makes N replicas rotate exactly once (Dex #1148).
enum KeyRotationPlan: Equatable, Sendable {
    /// Nothing to do.
    case none
    /// Empty storage: create the signing key. The next key follows as a `prePublish` step, so a
    /// first start waits for one RSA key generation, not two (it is published hours before it signs).
    case initialize
    /// The signing key is fine but no usable next key is published yet (e.g. keys written by Dex,
    /// which has no next key): pre-publish one without rotating.
    case prePublish
    /// Rotation is due (time, or a configured algorithm change). `promoteNext` says whether the
    /// pre-published key can become the signing key; otherwise a fresh key signs immediately.
    case rotate(promoteNext: Bool)
    /// Only retired keys past their expiry need removing.
    case prune

    /// Thrown inside the updater when the stored value no longer needs this plan.
    struct Superseded: Error {}

    static func decide(_ keys: Keys, algorithm: SigningAlgorithm, now: Date) -> KeyRotationPlan {
        guard let signing = keys.signingKey else { return .initialize }
        let nextUsable = keys.nextSigningKey?.algorithm == algorithm.name
        if signing.algorithm != algorithm.name || now >= keys.nextRotation {
            return .rotate(promoteNext: nextUsable)
        }
        if !nextUsable { return .prePublish }
        if keys.verificationKeys.contains(where: { $0.expiry <= now }) { return .prune }
        return .none
    }

    /// How many fresh keys this plan consumes.
    var freshKeysNeeded: Int {
        switch self {
        case .none, .prune: 0
        case .initialize, .prePublish: 1
        case .rotate(let promoteNext): promoteNext ? 1 : 2
        }
    }

    /// Applies the plan inside the storage updater, after re-deciding on `keys`.
    ///
    /// - Parameters:
    ///   - observed: the value the plan was made from; the signing and next kids must still match.
    ///   - fresh: `freshKeysNeeded` newly generated keys.
    /// - Throws: `Superseded` when `keys` no longer calls for this plan (another replica acted).
    func apply(to keys: inout Keys, observed: Keys, fresh: [SigningKey], algorithm: SigningAlgorithm, now: Date,
               rotationPeriod: TimeInterval, idTokenLifetime: TimeInterval) throws {
        guard Self.decide(keys, algorithm: algorithm, now: now) == self,
              keys.signingKey?.kid == observed.signingKey?.kid,
              keys.nextSigningKey?.kid == observed.nextSigningKey?.kid,
              fresh.count == freshKeysNeeded
        else { throw Superseded() }

        // Retired keys stay published until the last token they signed has expired.
        keys.verificationKeys.removeAll { $0.expiry <= now }
        switch self {
        case .none, .prune:
            break
        case .initialize:
            keys.signingKey = fresh[0]
            keys.nextRotation = now.addingTimeInterval(rotationPeriod)
        case .prePublish:
            keys.nextSigningKey = fresh[0]
        case .rotate(let promoteNext):
            if let retiring = keys.signingKey {
                keys.verificationKeys.append(VerificationKey(kid: retiring.kid, publicJWK: retiring.publicJWK,
                                                             expiry: now.addingTimeInterval(idTokenLifetime)))
            }
            // An unusable next key (wrong algorithm) never signed anything, so it is simply dropped.
            keys.signingKey = promoteNext ? keys.nextSigningKey : fresh[0]
            keys.nextSigningKey = fresh[fresh.count - 1]
            keys.nextRotation = now.addingTimeInterval(rotationPeriod)
        }
    }
}
