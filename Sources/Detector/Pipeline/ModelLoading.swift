import Foundation

/// A network from a weights file: the config stored in its metadata, then every tensor.
public func loadNetwork(path: String) throws -> Network {
    let checkpoint = try Checkpoint.load(path: path)
    let config = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "\(path) (config in metadata)")
    let network = try Network(config: config, seed: 0)
    try checkpoint.apply(to: network.parameters)
    return network
}
