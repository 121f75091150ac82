/// Why the login pages could not be prepared at startup.
///
/// An open struct over a private enum (as Hummingbird's `PersistError`), compared by ``code`` only.
public struct PagesError: Error, CustomStringConvertible, Equatable {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unknownTheme, missingFrontendDir, missingTemplate, invalidTemplate, unreadableFile, missingBundle
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// `frontend.theme` names no folder under `themes/`.
        public static let unknownTheme = Code(.unknownTheme)
        /// `frontend.dir` does not exist or is not a directory.
        public static let missingFrontendDir = Code(.missingFrontendDir)
        /// A page template is in neither `frontend.dir` nor the bundle.
        public static let missingTemplate = Code(.missingTemplate)
        /// A template does not parse as Mustache.
        public static let invalidTemplate = Code(.invalidTemplate)
        /// A file could not be read (or is too large to serve from memory).
        public static let unreadableFile = Code(.unreadableFile)
        /// The bundled `Web` resources are missing from the installation.
        public static let missingBundle = Code(.missingBundle)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// A sentence for the operator, naming the config key or file at fault.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }

    public static func == (lhs: PagesError, rhs: PagesError) -> Bool { lhs.code == rhs.code }
}
