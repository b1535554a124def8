"""The scenario twins, one module per scenario: `sync`, `async` and `broken` side by side (see `lab.scenarios`)."""
