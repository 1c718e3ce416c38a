// Large constants can reach us as dense_resource blobs; the importer inlines them.
// RUN: ditto-opt %s | filecheck %s

module {
  func.func @main() -> tensor<2xf32> {
    %0 = "stablehlo.constant"() <{value = dense_resource<weights> : tensor<2xf32>}> : () -> tensor<2xf32>
    func.return %0 : tensor<2xf32>
  }
}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F00000040"
    }
  }
#-}

// CHECK: stablehlo.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
