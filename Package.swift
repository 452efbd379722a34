// swift-tools-version:6.0
//
// SwiftPM package for ably-auth: `CAblyAuth` (the C API of include/ably_auth.h) and `AblyAuth`
// (the Swift API). The Rust library is built by cargo, not by SwiftPM; see
// bindings/swift/README.md for how the linker finds it (`-Xlinker -L`, pkg-config, or an
// xcframework for iOS).
import Foundation
import PackageDescription

// When bindings/swift/CAblyAuth.xcframework exists (bindings/swift/build-xcframework.sh makes
// it from the Rust staticlibs), the C module comes from it: that is how Xcode builds an iOS
// app against this package. Otherwise it is a system library linked as `-lably_auth`.
let xcframework = "bindings/swift/CAblyAuth.xcframework"
let useXCFramework = FileManager.default.fileExists(
    atPath: Context.packageDirectory + "/" + xcframework)

let cModule: Target = useXCFramework
    ? .binaryTarget(name: "CAblyAuth", path: xcframework)
    : .systemLibrary(
        name: "CAblyAuth",
        path: "bindings/swift/Sources/CAblyAuth",
        // Optional: an installed ably_auth.pc (cmake --install) supplies -L<libdir>.
        pkgConfig: "ably_auth")

// A Rust staticlib may need libiconv on Apple platforms; harmless otherwise.
let xcframeworkLinkerSettings: [LinkerSetting] = useXCFramework ? [.linkedLibrary("iconv")] : []

let package = Package(
    name: "AblyAuth",
    platforms: [.macOS(.v10_15), .iOS(.v13)],
    products: [
        .library(name: "AblyAuth", targets: ["AblyAuth"]),
    ],
    targets: [
        cModule,
        .target(
            name: "AblyAuth",
            dependencies: ["CAblyAuth"],
            path: "bindings/swift/Sources/AblyAuth",
            linkerSettings: xcframeworkLinkerSettings),
        // A game server issuing a token for a player, and the player's client authorizing
        // with it (run by bindings/swift/run-tests.sh, copied by its consumer test).
        .executableTarget(
            name: "ably-auth-swift-example",
            dependencies: ["AblyAuth"],
            path: "bindings/swift/Examples/TokenExample"),
        .testTarget(
            name: "AblyAuthTests",
            // CAblyAuth too: the vector tests compare with what the C API gives directly.
            dependencies: ["AblyAuth", "CAblyAuth"],
            path: "bindings/swift/Tests/AblyAuthTests"),
    ]
)
