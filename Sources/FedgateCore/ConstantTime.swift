import Foundation

/// Secret comparison whose duration does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }

    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // The lengths are compared whole: folding their difference into a byte would make
        // lengths that differ by a multiple of 256 look equal (with zero bytes as padding).
        var diff: UInt8 = 0
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && a.count == b.count
    }
}
