#!/usr/bin/python3
"""The catalogue's web page in real headless Chromium (Debian's chromium and chromedriver, driven by
Selenium): search, with totals, facet counts, snippets, dates in the hub's time zone, numbered pages and
orders; open a result, follow a replication both ways, check that markup in a title is shown as text, and
save screenshots (desktop and phone width).

    catalogue_page.py --base http://127.0.0.1:PORT --screenshots DIR --hostile-id ID --hostile-title TITLE

Exits 0 when every check holds; otherwise prints what failed and exits 1.
"""
import argparse
import os
import re
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

failures = []
MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November",
          "Desember"]


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def browser(width, height, phone=False):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--lang=id"):
        options.add_argument(flag)
    if phone:
        # A window cannot be narrower than about 500 px; a phone is emulated instead.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--hostile-id", required=True)
    parser.add_argument("--hostile-title", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)

    driver = browser(1280, 1800)
    wait = WebDriverWait(driver, 15)
    try:
        driver.get(args.base + "/")
        check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "id", "the page says it is Indonesian")
        check("Kata kunci" in driver.page_source and "Inovasi per provinsi" in driver.page_source,
              "Indonesian labels and the chart heading are shown")
        bars = driver.find_elements(By.CSS_SELECTOR, "section.chart svg rect")
        check(len(bars) == 3, f"the chart has a bar per province with innovations ({len(bars)})")
        hubs = driver.find_elements(By.CSS_SELECTOR, "table#hubs tbody tr")
        check(len(hubs) == 3, f"the hub freshness table has the three hubs ({len(hubs)})")

        # Search with a filter, from the form.
        box = driver.find_element(By.ID, "q")
        box.send_keys("sapa warga")
        Select(driver.find_element(By.ID, "province")).select_by_value("35")
        driver.find_element(By.CSS_SELECTOR, "form.search button").click()
        wait.until(ec.url_contains("q=sapa"))
        results = driver.find_elements(By.CSS_SELECTOR, "ol#results a.title")
        check(len(results) >= 1 and results[0].text == "Sapa Warga Surabaya",
              f"the search finds Sapa Warga Surabaya first ({[r.text for r in results]})")
        check(Select(driver.find_element(By.ID, "province")).first_selected_option.text.startswith("Jawa Timur"),
              "the province filter stays selected")
        check(driver.find_element(By.ID, "q").get_attribute("value") == "sapa warga", "the search box keeps the words as typed")
        total = driver.find_element(By.ID, "total").text
        check(re.fullmatch(r"Hasil pencarian: [1-9][0-9.]* inovasi", total) is not None, f"the page says how many match ({total!r})")
        facet_groups = [g.find_element(By.TAG_NAME, "h3").text.capitalize() for g in driver.find_elements(By.CSS_SELECTOR, "#facets .facet")]
        check("Provinsi" in facet_groups and "Kategori" in facet_groups, f"counts of the matches beside the filters ({facet_groups})")
        check("Jawa Timur (" in Select(driver.find_element(By.ID, "province")).first_selected_option.text,
              "the filter's options carry the counts")
        marks = [m.text.lower() for m in driver.find_elements(By.CSS_SELECTOR, "ol#results p.snippet mark")]
        check("warga" in marks, f"the snippet marks the words matched ({marks})")
        updated = driver.find_element(By.CSS_SELECTOR, "ol#results .updated").text
        check(re.search(r"\d{1,2} (%s) \d{4} \d{2}\.\d{2} WIB$" % "|".join(MONTHS), updated) is not None,
              f"dates are Indonesian, in the hub's zone ({updated!r})")
        driver.save_screenshot(os.path.join(args.screenshots, "search.png"))

        # Facet links apply a filter; numbered pages and the orders.
        driver.get(args.base + "/?q=layanan")
        links = driver.find_elements(By.CSS_SELECTOR, "#facets .facet:nth-of-type(2) a")
        if links:
            label = links[0].text
            links[0].click()
            wait.until(ec.url_contains("category="))
            shown = {m.text.split(" · ")[2] for m in driver.find_elements(By.CSS_SELECTOR, "ol#results .meta:not(.updated)")}
            check(shown == {label}, f"a category facet keeps only that category ({label!r}: {shown})")
        else:
            check(False, "the layanan search has category facets")
        driver.get(args.base + "/?limit=2")
        pages = driver.find_elements(By.CSS_SELECTOR, "nav#pages a")
        check(len(pages) >= 2, f"page navigation under a long listing ({[p.text for p in pages]})")
        first_page = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "ol#results a.title")]
        driver.find_element(By.CSS_SELECTOR, "nav#pages a[href*='page=2']").click()
        wait.until(ec.url_contains("page=2"))
        check(driver.find_element(By.CSS_SELECTOR, "nav#pages .current").text == "2", "page 2 is marked as the current one")
        second_page = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "ol#results a.title")]
        check(len(second_page) == 2 and not set(first_page) & set(second_page), f"page 2 holds other results ({second_page})")
        driver.get(args.base + "/")
        Select(driver.find_element(By.ID, "sort")).select_by_value("newest")
        driver.find_element(By.CSS_SELECTOR, "form.search button").click()
        wait.until(ec.url_contains("sort=newest"))
        launched = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "ol#results .meta:not(.updated)")]
        years = [int(re.search(r"diluncurkan .*?(\d{4})$", t).group(1)) for t in launched if "diluncurkan" in t]
        check(len(years) >= 2 and years == sorted(years, reverse=True), f"newest first ({years})")
        hub_dates = driver.find_element(By.ID, "hubs").text
        check("WITA" in hub_dates and "WIB" in hub_dates, "hub times are in each hub's own zone (Sulawesi Selatan in WITA)")

        # A mistyped word is searched as the word it most likely meant, and the page says so.
        driver.get(args.base + "/?q=sapa+warga+surabya")
        corrected = driver.find_element(By.ID, "corrected").text
        check("Menampilkan hasil untuk" in corrected and "surabaya" in corrected and "surabya" in corrected,
              f"the page names the corrected word ({corrected!r})")
        results = driver.find_elements(By.CSS_SELECTOR, "ol#results a.title")
        check(len(results) >= 1 and results[0].text == "Sapa Warga Surabaya", "the corrected search finds it")
        driver.get(args.base + "/?q=sapa+warga&province=35")
        check(len(driver.find_elements(By.ID, "corrected")) == 0, "nothing is said when nothing was corrected")
        results = driver.find_elements(By.CSS_SELECTOR, "ol#results a.title")

        # The detail page, and the replication both ways.
        results[0].click()
        wait.until(ec.presence_of_element_located((By.ID, "title")))
        check(driver.find_element(By.ID, "title").text == "Sapa Warga Surabaya", "the detail page shows the title")
        history = driver.find_elements(By.CSS_SELECTOR, "table#history tbody tr")
        check(len(history) >= 1 and "35" in history[0].text, "history shows the hub that published each revision")
        copies = driver.find_elements(By.CSS_SELECTOR, "ul#replicated-by a")
        check(len(copies) >= 1, "the page lists who replicated it")
        driver.save_screenshot(os.path.join(args.screenshots, "detail.png"))
        if copies:
            copies[0].click()
            wait.until(ec.presence_of_element_located((By.ID, "replicates")))
            back = driver.find_element(By.CSS_SELECTOR, "#replicates a")
            check(back.text == "Sapa Warga Surabaya", "the replica links back to the original")
            back.click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "title"), "Sapa Warga Surabaya"))

        # Markup in a title is text, never markup.
        driver.get(args.base + "/inovasi/35:" + args.hostile_id)
        title = wait.until(ec.presence_of_element_located((By.ID, "title")))
        check(title.text == args.hostile_title, f"a title holding markup is shown verbatim ({title.text!r})")
        check(len(driver.find_elements(By.CSS_SELECTOR, "article script, article b")) == 0, "no element came out of it")
        alerts = True
        try:
            driver.switch_to.alert
        except Exception:
            alerts = False
        check(not alerts, "no script ran")

        # A bad filter is explained, in Indonesian.
        driver.get(args.base + "/?launched_from=abc")
        check("tidak valid" in driver.find_element(By.CSS_SELECTOR, "p.error").text, "a bad filter is explained")
    finally:
        driver.quit()

    phone = browser(390, 1400, phone=True)
    try:
        phone.get(args.base + "/?q=antrian")
        width = phone.execute_script("return document.documentElement.scrollWidth")
        check(width <= 390, f"nothing overflows a phone's width ({width}px)")
        phone.save_screenshot(os.path.join(args.screenshots, "phone.png"))
    finally:
        phone.quit()

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
