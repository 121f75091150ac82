import Foundation
import Testing

@testable import Gateway

@Suite("Pages")
struct PagesTests {
    private func pages(_ options: PageOptions = PageOptions(basePath: "/dex")) throws -> Pages {
        try Pages(options: options)
    }

    /// A temporary frontend.dir holding `files` (relative path -> contents).
    private func makeFrontendDir(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-pages-\(UUID().uuidString)", isDirectory: true)
        for (path, contents) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
        return root
    }

    private func expectChrome(_ html: String, basePath: String = "/dex", issuer: String = "Fedgate") {
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("</html>"))
        #expect(html.contains(#"<link rel="stylesheet" href="\#(basePath)/static/main.css">"#))
        #expect(html.contains(#"<link rel="stylesheet" href="\#(basePath)/theme/styles.css">"#))
        #expect(html.contains(#"src="\#(basePath)/theme/logo.svg""#))
        #expect(html.contains(#"<span class="issuer-name">\#(issuer)</span>"#))
        #expect(!html.contains("http://") && !html.contains("https://"), "no external URLs")
    }

    @Test("login lists connectors sorted case-insensitively by name")
    func login() throws {
        let html = try pages().login(connectors: [
            ConnectorLink(id: "gh", name: "github", type: "github", url: "/dex/auth/gh?req=1"),
            ConnectorLink(id: "ldap", name: "LDAP", type: "ldap", url: "/dex/auth/ldap?req=1"),
            ConnectorLink(id: "az", name: "Azure", type: "oidc", url: "/dex/auth/az?req=1"),
        ])
        expectChrome(html)
        let azure = try #require(html.range(of: #"<a class="connector" href="/dex/auth/az?req=1">Log in with Azure</a>"#))
        let github = try #require(html.range(of: #"<a class="connector" href="/dex/auth/gh?req=1">Log in with github</a>"#))
        let ldap = try #require(html.range(of: #"<a class="connector" href="/dex/auth/ldap?req=1">Log in with LDAP</a>"#))
        #expect(azure.lowerBound < github.lowerBound && github.lowerBound < ldap.lowerBound)
        #expect(html.contains("Log in to Fedgate"))
        let empty = try pages().login(connectors: [])
        #expect(empty.contains("No login methods are configured.") && !empty.contains(#"class="connector""#))
    }

    @Test("password form: fields, prompt label, username value, back link")
    func password() throws {
        let html = try pages().password(postURL: "/dex/auth/ldap?req=abc", username: "jane", prompt: "Email", invalid: false, message: nil, backURL: "/dex/auth?req=abc")
        expectChrome(html)
        #expect(html.contains(#"<form method="post" action="/dex/auth/ldap?req=abc" id="login-form">"#))
        #expect(html.contains(#"<label for="login">Email</label>"#))
        #expect(html.contains(#"<input name="login" id="login" type="text" value="jane""#))
        #expect(html.contains("autofocus"))
        #expect(html.contains(#"<input type="password" name="password""#))
        #expect(html.contains(#"<button type="submit""#))
        #expect(!html.contains(#"id="login-error""#))
        #expect(html.contains(#"<a class="back-link" href="/dex/auth?req=abc">Select another login method.</a>"#))
    }

    @Test("password form shows Dex's invalid-credentials wording")
    func passwordInvalid() throws {
        let html = try pages().password(postURL: "/p", username: "jane", prompt: "Username", invalid: true, message: nil, backURL: nil)
        #expect(html.contains(#"<div class="error" id="login-error">Invalid Username and password.</div>"#))
        #expect(!html.contains("Select another login method."))
    }

    @Test("password form shows a message (rate limit) in the error box")
    func passwordMessage() throws {
        let message = "Too many failed attempts. Try again in 30 seconds."
        let html = try pages().password(postURL: "/p", username: "", prompt: "Email", invalid: true, message: message, backURL: nil)
        #expect(html.contains(#"<div class="error" id="login-error">\#(message)</div>"#))
        #expect(!html.contains("Invalid Email and password."))
    }

    @Test("approval lists scope descriptions and carries req and hmac in both forms")
    func approval() throws {
        let html = try pages().approval(
            clientName: "Example App",
            scopes: ["openid", "email", "profile", "groups", "offline_access", "federated:id", "audience:server:client_id:kube"],
            authReqID: "req123", hmac: "mac456", postURL: "/dex/approval")
        expectChrome(html)
        #expect(html.contains("Example App"))
        for description in ["View your email address", "View basic profile information", "View your groups",
                            "Have offline access", "View your connector identity", "Issue tokens for kube"] {
            #expect(html.contains("<li>\(description)</li>"), "missing \(description)")
        }
        #expect(!html.contains("openid"))
        #expect(html.contains(#"<form method="post" action="/dex/approval" id="approve-form">"#))
        #expect(html.contains(#"<form method="post" action="/dex/approval" id="reject-form">"#))
        #expect(html.components(separatedBy: #"<input type="hidden" name="req" value="req123">"#).count == 3)
        #expect(html.components(separatedBy: #"<input type="hidden" name="hmac" value="mac456">"#).count == 3)
        #expect(html.contains(#"<button type="submit" name="approval" value="approve">Grant Access</button>"#))
        #expect(html.contains(#"<button type="submit" name="approval" value="rejected">Cancel</button>"#))
    }

    @Test("approval with only openid requests no personal information")
    func approvalOpenIDOnly() throws {
        let html = try pages().approval(clientName: "CLI", scopes: ["openid"], authReqID: "r", hmac: "h", postURL: "/approval")
        #expect(html.contains("has not requested any personal information"))
        #expect(!html.contains(#"<ul class="scopes">"#))
    }

    @Test("scope descriptions follow Dex: sorted, deduplicated, openid and unknown scopes dropped")
    func scopeDescriptions() {
        #expect(Pages.scopeDescriptions(["openid", "profile", "email", "email", "bogus", "audience:server:client_id:"])
            == ["View basic profile information", "View your email address"])
        #expect(Pages.scopeDescriptions(["audience:server:client_id:peer"]) == ["Issue tokens for peer"])
        #expect(Pages.scopeDescriptions([]).isEmpty)
    }

    @Test("error page markup")
    func errorPage() throws {
        let html = try pages().error(title: "Bad Request", message: "Unknown client.")
        expectChrome(html)
        #expect(html.contains(#"<h2 class="error-title">Bad Request</h2><p class="error-message">Unknown client.</p>"#))
    }

    @Test("oob page shows the code read-only")
    func oob() throws {
        let html = try pages().oob(code: "abc-123")
        expectChrome(html)
        #expect(html.contains(#"<input id="code" value="abc-123" readonly>"#))
    }

    @Test("SAML POST form works without JavaScript and auto-submits with it")
    func samlPost() throws {
        let html = try pages().samlPost(actionURL: "https://idp.example.com/sso", samlRequest: "PHNhbWw+", relayState: "state+1")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains(#"<form method="post" action="https://idp.example.com/sso" id="saml-form" data-autosubmit>"#))
        #expect(html.contains(#"<input type="hidden" name="SAMLRequest" value="PHNhbWw+">"#))
        #expect(html.contains(#"<input type="hidden" name="RelayState" value="state+1">"#))
        #expect(html.contains(#"<button type="submit" id="saml-continue">Continue</button>"#))
        #expect(html.contains(#"<script src="/dex/static/autosubmit.js"></script>"#))
        #expect(try pages().asset("static/autosubmit.js")?.contentType == "text/javascript; charset=utf-8")
    }

    @Test("every value is HTML-escaped")
    func escaping() throws {
        let p = try pages(PageOptions(issuerDisplayName: "<b>Corp</b>", basePath: "/dex"))
        let approval = p.approval(clientName: "<script>alert(1)</script>", scopes: ["email"], authReqID: #"x" onmouseover="y"#, hmac: "'", postURL: "/a")
        #expect(!approval.contains("<script>alert(1)</script>"))
        #expect(approval.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(approval.contains(#"value="x&quot; onmouseover=&quot;y""#))
        #expect(approval.contains(#"value="&#39;""#))
        #expect(approval.contains("&lt;b&gt;Corp&lt;/b&gt;"))
        #expect(!approval.contains("<b>Corp</b>"))

        let login = p.login(connectors: [ConnectorLink(id: "x", name: "<img src=x>", type: "t", url: #"/a?b=1&c="2""#)])
        #expect(login.contains(#"href="/a?b=1&amp;c=&quot;2&quot;">Log in with &lt;img src=x&gt;</a>"#))
        let password = p.password(postURL: "/p", username: #""><script>"#, prompt: "<Email>", invalid: true, message: nil, backURL: nil)
        #expect(password.contains(#"value="&quot;&gt;&lt;script&gt;""#))
        #expect(password.contains("Invalid &lt;Email&gt; and password."))
        #expect(p.error(title: "<t>", message: "<m>").contains(#"<h2 class="error-title">&lt;t&gt;</h2><p class="error-message">&lt;m&gt;</p>"#))
    }

    @Test("a special character followed by a combining mark is escaped too (no attribute break-out)", arguments: ["\u{301}", "\u{200D}", "\u{FE0F}", "\u{20DD}"])
    func escapingWithCombiningMarks(_ mark: String) throws {
        let p = try pages(PageOptions(basePath: "/dex"))
        let attack = "\"" + mark + " autofocus onfocus=alert(document.domain) x=\"" + mark + "<" + mark + "script>"
        let password = p.password(postURL: "/p", username: attack, prompt: "Email", invalid: true, message: nil, backURL: nil)
        #expect(password.contains(#"value="&quot;"# + mark + " autofocus onfocus=alert(document.domain) x=&quot;" + mark + "&lt;" + mark + "script&gt;\""))
        // No raw quote or angle bracket from the value reaches the page.
        let value = try #require(password.range(of: #"value=""#)).upperBound
        let rest = password[value...]
        let end = try #require(rest.unicodeScalars.firstIndex(of: "\""))
        #expect(!rest[..<end].unicodeScalars.contains { $0 == "<" || $0 == ">" })
        #expect(String(rest[..<end]).hasSuffix("script&gt;"))
        // Custom content: titles and messages on the error page too.
        #expect(!p.error(title: "<" + mark + "b>", message: "m").contains("<" + mark + "b>"))
    }

    @Test("basePath is normalised and logoURL can be overridden")
    func basePathAndLogo() throws {
        let root = try pages(PageOptions(basePath: ""))
        expectChrome(root.error(title: "t", message: "m"), basePath: "")
        let slash = try pages(PageOptions(issuerDisplayName: "Acme", logoURL: "/img/acme.png", basePath: "/id/"))
        let html = slash.oob(code: "c")
        #expect(html.contains(#"href="/id/static/main.css""#))
        #expect(html.contains(#"src="/img/acme.png""#))
        #expect(html.contains(#"<span class="issuer-name">Acme</span>"#))
    }

    @Test("bundled assets: content types, robots.txt, both themes")
    func assets() throws {
        let light = try pages()
        let css = try #require(light.asset("static/main.css"))
        #expect(css.contentType == "text/css; charset=utf-8")
        #expect(!String(decoding: css.bytes, as: UTF8.self).contains("http"))
        let robots = try #require(light.asset("static/robots.txt"))
        #expect(String(decoding: robots.bytes, as: UTF8.self) == "User-agent: *\nDisallow: /\n")
        #expect(robots.contentType == "text/plain; charset=utf-8")
        for theme in ["light", "dark"] {
            let p = try pages(PageOptions(theme: theme))
            #expect(p.theme == theme)
            let styles = try #require(p.asset("theme/styles.css"))
            #expect(String(decoding: styles.bytes, as: UTF8.self).contains("color-scheme: \(theme)"))
            #expect(p.asset("theme/logo.svg")?.contentType == "image/svg+xml")
            #expect(p.asset("theme/favicon.svg")?.contentType == "image/svg+xml")
        }
        #expect(try pages(PageOptions(theme: "dark")).asset("theme/logo.svg") != light.asset("theme/logo.svg"))
    }

    @Test("Dex's legacy theme names and an empty theme mean light")
    func legacyThemes() throws {
        for name in ["", "coreos", "tectonic"] {
            #expect(try pages(PageOptions(theme: name)).theme == "light")
        }
    }

    @Test("an unknown theme is a startup error naming frontend.theme")
    func unknownTheme() throws {
        for name in ["purple", "../light", "."] {
            let error = try #require(throws: PagesError.self) { try Pages(options: PageOptions(theme: name)) }
            #expect(error.code == .unknownTheme)
            #expect(error.description.contains("frontend.theme"))
        }
    }

    @Test("asset paths cannot escape the web folders")
    func traversal() throws {
        let p = try pages()
        for path in ["../Package.swift", "static/../templates/login.mustache", "/etc/passwd", "/static/main.css",
                     "static/", "static", "theme/../../Web/static/main.css", "static//main.css", "static/./main.css",
                     "templates/login.mustache", "themes/light/styles.css", "static/main.css/..", "static\\..\\main.css", ""] {
            #expect(p.asset(path) == nil, "\(path) should be rejected")
        }
    }

    @Test("frontend.dir overrides single files and everything else falls back to the bundle")
    func frontendDirOverride() throws {
        let dir = try makeFrontendDir([
            "templates/error.mustache": "{{> header}}<h2 class=\"error-title\">Custom {{title}}</h2><p>{{extra.support}}</p>{{> footer}}",
            "static/main.css": "body { color: red; }",
            "static/extra/brand.png": "not really a png",
            "static/.secret": "hidden",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try pages(PageOptions(frontendDir: dir.path, extra: ["support": "help@example.com"], basePath: "/dex"))

        let error = p.error(title: "Oops", message: "m")
        #expect(error.contains(#"<h2 class="error-title">Custom Oops</h2><p>help@example.com</p>"#))
        expectChrome(error)
        #expect(p.login(connectors: []).contains("Log in to Fedgate"))

        #expect(p.asset("static/main.css").map { String(decoding: $0.bytes, as: UTF8.self) } == "body { color: red; }")
        #expect(p.asset("static/extra/brand.png")?.contentType == "image/png")
        #expect(p.asset("static/.secret") == nil)
        #expect(p.asset("static/robots.txt") != nil && p.asset("theme/styles.css") != nil)
    }

    @Test("frontend.dir can add a theme of its own")
    func frontendDirTheme() throws {
        let dir = try makeFrontendDir(["themes/corp/styles.css": ":root { --primary: #004400; }"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try pages(PageOptions(frontendDir: dir.path, theme: "corp"))
        #expect(p.theme == "corp")
        #expect(p.asset("theme/styles.css").map { String(decoding: $0.bytes, as: UTF8.self) } == ":root { --primary: #004400; }")
    }

    @Test("a broken template or a missing frontend.dir fails at startup")
    func startupErrors() throws {
        let dir = try makeFrontendDir(["templates/login.mustache": "{{#connectors}}unclosed"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let invalid = try #require(throws: PagesError.self) { try Pages(options: PageOptions(frontendDir: dir.path)) }
        #expect(invalid.code == .invalidTemplate)
        #expect(invalid.description.contains("login.mustache"))

        let missing = try #require(throws: PagesError.self) { try Pages(options: PageOptions(frontendDir: dir.path + "-nope")) }
        #expect(missing.code == .missingFrontendDir)
        #expect(missing.description.contains("frontend.dir"))
    }
}
