import Foundation

/// Reads the page files once at startup: the bundled `Web` folder, overlaid file-by-file by
/// `frontend.dir` (Dex's `web.FS` versus `frontend.dir` behaviour, `server/templates.go`).
///
/// Everything is read into memory up front so that serving a page or an asset never touches the
/// disk from an event loop; the bundled set is a few kilobytes.
struct PagesFileLoader {
    /// The bundled web root (`Sources/Gateway/Web`, copied as `fedgate_Gateway.resources/Web`).
    let bundledRoot: URL
    /// `frontend.dir`, when set.
    let overrideRoot: URL?

    /// A cap per file, so a stray archive in `frontend.dir` fails loudly instead of bloating memory.
    static let maxFileSize = 8 * 1024 * 1024

    init(frontendDir: String?) throws {
        self.bundledRoot = try Self.bundledWebRoot()
        if let frontendDir, !frontendDir.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: frontendDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PagesError(.missingFrontendDir, "frontend.dir \"\(frontendDir)\" does not exist or is not a directory")
            }
            self.overrideRoot = URL(fileURLWithPath: frontendDir, isDirectory: true)
        } else {
            self.overrideRoot = nil
        }
    }

    /// Locates the bundled `Web` folder (`Sources/Gateway/Web`, a `.copy` resource).
    ///
    /// SwiftPM installs it as `fedgate_Gateway.resources/Web` next to the executable, so that
    /// directory is tried first, also behind a symlinked binary (`/usr/local/bin/fedgate` ->
    /// `/opt/fedgate/fedgate`). Only then is `Bundle.module` asked, which adds the build folder
    /// (development and tests) but traps if neither place exists.
    static func bundledWebRoot() throws -> URL {
        let bundleName = "fedgate_Gateway.resources"
        var directories = [Bundle.main.bundleURL]
        if let executable = Bundle.main.executableURL {
            directories.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        for directory in directories {
            let web = directory.appendingPathComponent(bundleName, isDirectory: true).appendingPathComponent("Web", isDirectory: true)
            if isDirectory(web.path) { return web }
        }
        let module = Bundle.module
        let candidates = [
            module.url(forResource: "Web", withExtension: nil),
            module.resourceURL?.appendingPathComponent("Web", isDirectory: true),
            module.bundleURL.appendingPathComponent("Web", isDirectory: true),
        ]
        for case let url? in candidates where isDirectory(url.path) {
            return url
        }
        throw PagesError(.missingBundle, "the bundled web files (\(bundleName)/Web) are missing from \(module.bundleURL.path)")
    }

    /// The theme folder names available in either root, for error messages.
    func availableThemes() -> [String] {
        var names = Set<String>()
        for root in [bundledRoot, overrideRoot].compactMap({ $0 }) {
            let themes = root.appendingPathComponent("themes", isDirectory: true).path
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: themes)) ?? []
            for entry in entries where !entry.hasPrefix(".") && Self.isDirectory(themes + "/" + entry) {
                names.insert(entry)
            }
        }
        return names.sorted()
    }

    /// Whether `themes/<name>` exists in `frontend.dir` or the bundle. Names are single path
    /// components, so `frontend.theme: ../../etc` cannot point outside `themes/`.
    func themeExists(_ name: String) -> Bool {
        guard Self.isSafeComponent(name) else { return false }
        return [bundledRoot, overrideRoot].compactMap { $0 }.contains {
            Self.isDirectory($0.appendingPathComponent("themes/\(name)", isDirectory: true).path)
        }
    }

    /// Every `templates/**/*.mustache`, keyed by path without the extension (`login`, `partials/x`).
    func templateSources() throws -> [String: (text: String, origin: String)] {
        var result: [String: (text: String, origin: String)] = [:]
        for (relative, url) in try overlaidFiles(under: "templates") where relative.hasSuffix(".mustache") {
            let data = try Self.read(url)
            guard let text = String(data: data, encoding: .utf8) else {
                throw PagesError(.unreadableFile, "template \(url.path) is not valid UTF-8")
            }
            result[String(relative.dropLast(".mustache".count))] = (text, url.path)
        }
        return result
    }

    /// The served assets: `static/<path>` from `static/`, and `theme/<path>` from `themes/<theme>/`.
    func assets(theme: String) throws -> [String: PageAsset] {
        var assets: [String: PageAsset] = [:]
        for (prefix, folder) in [("static", "static"), ("theme", "themes/\(theme)")] {
            for (relative, url) in try overlaidFiles(under: folder) {
                let bytes = [UInt8](try Self.read(url))
                assets["\(prefix)/\(relative)"] = PageAsset(bytes: bytes, contentType: PageAsset.contentType(forFileName: relative))
            }
        }
        return assets
    }

    /// Regular files below `folder` in the bundle, replaced by same-path files in `frontend.dir`.
    private func overlaidFiles(under folder: String) throws -> [String: URL] {
        var files: [String: URL] = [:]
        for root in [bundledRoot, overrideRoot].compactMap({ $0 }) {
            let base = root.appendingPathComponent(folder, isDirectory: true)
            for relative in Self.regularFiles(in: base.path) {
                files[relative] = base.appendingPathComponent(relative, isDirectory: false)
            }
        }
        return files
    }

    /// Relative paths of the non-hidden regular files below `directory` (empty if it is missing).
    private static func regularFiles(in directory: String) -> [String] {
        guard isDirectory(directory), let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var paths: [String] = []
        for case let relative as String in enumerator {
            let components = relative.split(separator: "/")
            guard !components.contains(where: { $0.hasPrefix(".") }) else { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDir), !isDir.boolValue {
                paths.append(relative)
            }
        }
        return paths
    }

    private static func read(_ url: URL) throws -> Data {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxFileSize else {
            throw PagesError(.unreadableFile, "\(url.path) is larger than \(maxFileSize / 1024 / 1024) MiB; web files are served from memory")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw PagesError(.unreadableFile, "cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// A single, non-hidden path component: no `/`, `\`, NUL, and not `.` or `..`.
    static func isSafeComponent(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains(where: { $0 == "/" || $0 == "\\" || $0 == "\0" })
    }
}
