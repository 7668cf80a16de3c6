"""Pretrain a 4DS encoder as a masked video autoencoder (MAE); see `--help` and
`keras4ds_apps.pretrain`.

  python recipes/pretrain_mae.py --out runs/mae_s --size s --steps 2000 --batch 8
  python recipes/pretrain_mae.py --out runs/mae_s --size s --steps 2000 --batch 8 --resume
"""
from keras4ds_apps.pretrain import main

if __name__ == "__main__":
    main()
