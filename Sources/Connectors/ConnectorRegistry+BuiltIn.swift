import FedgateCore
import Foundation

extension ConnectorRegistry {
    /// Every connector type Fedgate ships, under Dex's type names. Config decoding uses this
    /// unless an embedder or test injects its own registry.
    public static var builtIn: ConnectorRegistry {
        var registry = ConnectorRegistry()
        registry.register(LocalConnectorConfig.self)
        registry.register(MockCallbackConfig.self)
        registry.register(MockPasswordConfig.self)
        registry.register(LDAPConfig.self)
        return registry
    }
}
