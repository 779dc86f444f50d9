"""The datastore (DS) driver: images into and out of image and file datastores.

Run as ``python -m nubo.drivers.ds``; it speaks the driver protocol (docs/drivers.md)
and does for each action what OpenNebula's one_datastore does, dispatching on the
datastore's DS_MAD: ``fs`` keeps images as files in the datastore's BASE_PATH
(nubo.drivers.ds.fs), ``dummy`` keeps nothing and answers as OpenNebula's dummy DS
(nubo.drivers.ds.dummy).
"""
