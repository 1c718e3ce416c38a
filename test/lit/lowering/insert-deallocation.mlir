// RUN: ditto-opt %s -p insert-deallocation --split-input-file | filecheck %s
// RUN: ditto-opt %s -p insert-deallocation,insert-deallocation --split-input-file | filecheck %s

// Each value is freed right after its last user; arguments and results never are.
// The second RUN line checks the pass is idempotent: no value is freed twice.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    %a = "pphlo.multiply"(%x, %w)
// CHECK-NEXT:    %b = "pphlo.add"(%a, %x)
// CHECK-NEXT:    "pphlo.free"(%a)
// CHECK-NEXT:    %c = "pphlo.multiply"(%b, %b)
// CHECK-NEXT:    "pphlo.free"(%b)
// CHECK-NEXT:    func.return %c
// CHECK-NOT:     pphlo.free
func.func @chain(%x: tensor<4x!pphlo.secret<f32>>, %w: tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>> {
  %a = "pphlo.multiply"(%x, %w) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  %b = "pphlo.add"(%a, %x) : (tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  %c = "pphlo.multiply"(%b, %b) : (tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  func.return %c : tensor<4x!pphlo.secret<f32>>
}

// -----

// A value nothing uses is freed at once; public values are freed like secrets.
// CHECK-LABEL: func.func @unused
// CHECK-NEXT:    %k = "pphlo.constant"()
// CHECK-NEXT:    %dead = "pphlo.negate"(%x)
// CHECK-NEXT:    "pphlo.free"(%dead)
// CHECK-NEXT:    %y = "pphlo.add"(%x, %k)
// CHECK-NEXT:    "pphlo.free"(%k)
// CHECK-NEXT:    func.return %y
func.func @unused(%x: tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> {
  %k = "pphlo.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %dead = "pphlo.negate"(%x) : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  %y = "pphlo.add"(%x, %k) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  func.return %y : tensor<4x!pphlo.secret<f32>>
}

// -----

// A use inside a reduce body counts as a use by the reduce; nothing is freed inside the body.
// CHECK-LABEL: func.func @region_use
// CHECK:         %r = "pphlo.reduce"(%x, %init)
// CHECK-NOT:     pphlo.free
// CHECK:         }) : (tensor<4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.free"(%init)
// CHECK-NEXT:    "pphlo.free"(%scale)
// CHECK-NEXT:    func.return %r
func.func @region_use(%x: tensor<4x!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>> {
  %init = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %scale = "pphlo.constant"() <{value = dense<2.0> : tensor<f32>}> : () -> tensor<f32>
  %r = "pphlo.reduce"(%x, %init) <{dimensions = array<i64: 0>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %s = "pphlo.add"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    %t = "pphlo.multiply"(%s, %scale) : (tensor<!pphlo.secret<f32>>, tensor<f32>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%t) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<!pphlo.secret<f32>>
  func.return %r : tensor<!pphlo.secret<f32>>
}

// -----

// A value the input already frees is not freed again.
// CHECK-LABEL: func.func @already_freed
// CHECK-NEXT:    %a = "pphlo.negate"(%x)
// CHECK-NEXT:    %b = "pphlo.negate"(%a)
// CHECK-NEXT:    "pphlo.free"(%a)
// CHECK-NOT:     "pphlo.free"(%a)
// CHECK:         func.return %b
func.func @already_freed(%x: tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> {
  %a = "pphlo.negate"(%x) : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  %b = "pphlo.negate"(%a) : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  "pphlo.free"(%a) : (tensor<4x!pphlo.secret<f32>>) -> ()
  func.return %b : tensor<4x!pphlo.secret<f32>>
}
