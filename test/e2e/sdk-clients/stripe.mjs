// The official Stripe SDK (node:https with its own keep-alive agent): only host/port changed.
import Stripe from 'stripe';

const url = new URL(process.argv[2]);
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY, { host: url.hostname, port: Number(url.port), protocol: 'https' });
const customer = await stripe.customers.retrieve('cus_test');
console.log(`stripe: ${customer.id}`);
