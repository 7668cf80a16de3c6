"""Applications over the keras4ds library: the `keras4ds` command line (`cli`), the study
(`study`), the readout-probe runner (`probe`), the MAE pretraining runner (`pretrain`) and
the pictures they write (`pictures`).

The library (`keras4ds`) never imports this package.
"""
