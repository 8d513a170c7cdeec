"""NiN Lab's PyTorch engine: a trainer that speaks the same message protocol as the
TensorFlow.js trainer (src/shared/protocol/trainer.ts). Entry point: ../trainer.py."""
