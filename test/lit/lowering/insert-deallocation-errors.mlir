// RUN: ditto-opt %s -p insert-deallocation --split-input-file --verify-diagnostics | filecheck %s
// RUN: not ditto-opt %s -p insert-deallocation --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// Only the program SPU executes is deallocated: StableHLO is refused, naming the op.
// CHECK: 'stablehlo.add' is not PPHLO: insert-deallocation runs on the program SPU executes
// EXIT: ditto-opt: error: {{.*}}'stablehlo.add' is not PPHLO: insert-deallocation runs on the program SPU executes
func.func @not_pphlo(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = "stablehlo.add"(%x, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
