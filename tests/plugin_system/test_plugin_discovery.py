def test_site(plugin_site):
    import os
    for r, d, f in os.walk(plugin_site):
        print(r, f)
    print(open(next(plugin_site.glob("nb_demo_good-*.dist-info"))/"METADATA").read())
    print(open(next(plugin_site.glob("nb_demo_good-*.dist-info"))/"entry_points.txt").read())
    assert 0
