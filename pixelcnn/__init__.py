"""PixelCNN, Gated PixelCNN and PixelCNN++, their heads and samplers."""
